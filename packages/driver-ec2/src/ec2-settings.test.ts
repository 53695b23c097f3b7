import { describe, expect, it } from 'vitest';
import { createDriver } from './ec2-driver.js';
import { Ec2SettingsError, parseAccountSettings, parseLaunchSettings } from './ec2-settings.js';

const spec = (options: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  service: 'web',
  image: 'ami-0abc',
  securityGroups: [],
  options,
  ...extra,
});

describe('EC2 settings', () => {
  it('reports every problem of the plan keys at once', () => {
    const parse = () =>
      parseLaunchSettings(
        spec({
          iaas_url: 'ftp://example',
          iaas_key: 'AKIA',
          aws_profil: 'dev',
          ssh_address: 'elastic',
          root_volume_gb: '2.5',
          spot: 'maybe',
          tags: 'team=a,cloudboot-run=x,broken',
        }),
        {},
      );
    expect(parse).toThrow(Ec2SettingsError);
    expect(parse).toThrow(
      [
        "the ec2 driver's plan keys have 8 problems:",
        'aws_profil is not a key of the ec2 driver; expected one of aws_profile, aws_session_token',
        'iaas_url is "ftp://example"; expected the http(s) URL of an EC2-compatible endpoint',
        'iaas_key is given without iaas_secret; expected both (an access key id and its secret) or neither (the AWS default credential chain)',
        'ssh_address is "elastic"; expected public or private',
        'root_volume_gb is "2.5"; expected a whole number of GiB from 1 to 65536',
        'spot is "maybe"; expected true or false',
        'tags is "team=a,cloudboot-run=x,broken"; tag cloudboot-run is reserved (cloudboot- tags are set by cloudboot, aws: tags by AWS); expected other tag keys',
        'tags is "team=a,cloudboot-run=x,broken"; "broken" is not KEY=VALUE; expected k1=v1,k2=v2',
      ].join('\n  '),
    );
  });

  it('refuses an unknown aws_ key when the driver is created, naming the known ones', () => {
    expect(() => createDriver({ iaas: 'us-east-1', aws_sesion_token: 'x' })).toThrow(
      "the ec2 driver's plan keys have a problem: aws_sesion_token is not a key of the ec2 driver; expected one of aws_profile, aws_session_token",
    );
    expect(() =>
      createDriver({ iaas: 'us-east-1', aws_profil: 'dev', spot: 'often', ssh_address: 'x' }),
    ).toThrow(
      [
        "the ec2 driver's plan keys have 3 problems:",
        'aws_profil is not a key of the ec2 driver; expected one of aws_profile, aws_session_token',
        'ssh_address is "x"; expected public or private',
        'spot is "often"; expected true or false',
      ].join('\n  '),
    );
    // Keys without the driver's prefix belong to others (core, other drivers).
    expect(() => createDriver({ iaas: 'us-east-1', api_calls_per_second: '5' })).not.toThrow();
  });

  it('takes the region from iaas, else AWS_REGION, else AWS_DEFAULT_REGION', () => {
    expect(parseAccountSettings({ iaas: 'eu-west-1' }, { AWS_REGION: 'x-1' }).region).toBe(
      'eu-west-1',
    );
    expect(parseAccountSettings({}, { AWS_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(parseAccountSettings({}, { AWS_DEFAULT_REGION: 'sa-east-1' }).region).toBe('sa-east-1');
    expect(parseAccountSettings({}, {}).region).toBeUndefined();
  });

  it('uses explicit keys (with a session token) or the default chain with a profile', () => {
    expect(
      parseAccountSettings(
        { iaas_key: 'AKIA1', iaas_secret: 's', aws_session_token: 't', ssh_address: 'private' },
        {},
      ),
    ).toEqual({
      credentials: { accessKeyId: 'AKIA1', secretAccessKey: 's', sessionToken: 't' },
      sshAddress: 'private',
    });
    expect(parseAccountSettings({ aws_profile: 'dev' }, {})).toEqual({
      profile: 'dev',
      sshAddress: 'public',
    });
    expect(() => parseAccountSettings({ aws_session_token: 't' }, {})).toThrow(
      'aws_session_token is given without iaas_key and iaas_secret',
    );
    expect(() =>
      parseAccountSettings({ aws_profile: 'dev', iaas_key: 'k', iaas_secret: 's' }, {}),
    ).toThrow('aws_profile and iaas_key are both given');
  });

  it('splits security groups into ids and names and reads the optional launch keys', () => {
    const { launch } = parseLaunchSettings(
      spec(
        {
          subnet: 'subnet-1',
          availability_zone: 'us-east-1c',
          iam_instance_profile: 'arn:aws:iam::1:instance-profile/p',
          user_data: '/tmp/ud.sh',
          root_volume_gb: '30',
          spot: 'yes',
          ebs_optimized: 'false',
          tags: 'team=data, cost=42',
        },
        { allocation: 't3.small', keyName: 'kp', securityGroups: ['sg-0a1', 'web', ' '] },
      ),
      {},
    );
    expect(launch).toEqual({
      image: 'ami-0abc',
      instanceType: 't3.small',
      keyName: 'kp',
      securityGroupIds: ['sg-0a1'],
      securityGroupNames: ['web'],
      subnet: 'subnet-1',
      availabilityZone: 'us-east-1c',
      iamInstanceProfile: { arn: 'arn:aws:iam::1:instance-profile/p' },
      userDataFile: '/tmp/ud.sh',
      rootVolumeGb: 30,
      spot: true,
      ebsOptimized: false,
      tags: { team: 'data', cost: '42' },
    });
    expect(
      parseLaunchSettings(spec({ iam_instance_profile: 'web-role' }), {}).launch.iamInstanceProfile,
    ).toEqual({ name: 'web-role' });
  });
});
