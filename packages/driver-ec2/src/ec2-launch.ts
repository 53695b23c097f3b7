/**
 * The `RunInstances` request of one launch: the launch token as
 * `ClientToken` (EC2's idempotency key: the same token returns the same
 * instance and creates nothing), and the cloudboot tags on the instance and
 * its volumes in the same call (`TagSpecifications`), so no instance ever
 * exists untagged and no separate `CreateTags` call can be lost.
 */
import { readFile } from 'node:fs/promises';
import type { _InstanceType, RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import { DriverError, type LaunchContext } from '@cloudboot/core';
import type { Ec2Api } from './ec2-client.js';
import { EC2_DRIVER_NAME, type Ec2Asked, ec2Error } from './ec2-errors.js';
import type { Ec2LaunchSettings } from './ec2-settings.js';

/** EC2's limit on user data, before base64 encoding. */
const USER_DATA_LIMIT = 16 * 1024;

/** Root device names by AMI id, looked up once per driver (one account and region). */
export type RootDevices = Map<string, Promise<string>>;

/** What a launch asked for, for error messages. */
export function askedOf(launch: Ec2LaunchSettings, region: string | undefined): Ec2Asked {
  return {
    image: launch.image,
    ...(launch.keyName !== undefined && { keyName: launch.keyName }),
    securityGroups: [...launch.securityGroupIds, ...launch.securityGroupNames],
    ...(launch.subnet !== undefined && { subnet: launch.subnet }),
    ...(region !== undefined && { region }),
  };
}

/** The tags of the instance and its volumes: cloudboot's, a `Name`, then the plan's `tags`. */
export function launchTags(
  service: string,
  context: LaunchContext,
  extra: Readonly<Record<string, string>>,
): Tag[] {
  const run = context.tags['cloudboot-run'] ?? '';
  const tags: Record<string, string> = {
    Name: run === '' ? service : `${run}/${service}`,
    ...extra,
    ...context.tags,
    'cloudboot-token': context.token,
  };
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

async function userData(file: string, service: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw new DriverError(
      'invalid-request',
      EC2_DRIVER_NAME,
      `service ${service}: user_data file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); expected a readable file`,
    );
  }
  if (data.length > USER_DATA_LIMIT) {
    throw new DriverError(
      'invalid-request',
      EC2_DRIVER_NAME,
      `service ${service}: user_data file ${file} has ${data.length} bytes; EC2 accepts at most ${USER_DATA_LIMIT}`,
    );
  }
  return data.toString('base64');
}

/** The root device of an AMI (to size it), asked once per AMI. */
function rootDevice(
  api: Ec2Api,
  cache: RootDevices,
  launch: Ec2LaunchSettings,
  service: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  const image = launch.image;
  if (image.startsWith('resolve:ssm:')) {
    return Promise.reject(
      new DriverError(
        'invalid-request',
        EC2_DRIVER_NAME,
        `service ${service}: root_volume_gb needs the root device of the image, which cloudboot reads with DescribeImages; give image as an AMI id rather than ${image}`,
      ),
    );
  }
  let device = cache.get(image);
  if (device === undefined) {
    device = api.describeImages({ ImageIds: [image] }, signal).then(
      (out) => {
        const name = out.Images?.[0]?.RootDeviceName;
        if (name === undefined) {
          throw new DriverError(
            'not-found',
            EC2_DRIVER_NAME,
            `EC2 DescribeImages: image "${image}" was not described${api.region ? ` in region ${api.region}` : ''}; check the image key`,
          );
        }
        return name;
      },
      (error: unknown) => {
        throw ec2Error(error, 'DescribeImages', askedOf(launch, api.region));
      },
    );
    cache.set(image, device);
    // A failed lookup (throttled, say) is asked again next time.
    device.catch(() => cache.delete(image));
  }
  return device;
}

/**
 * The `RunInstances` input for one launch.
 * @throws DriverError when the user data file cannot be used or the root device cannot be found.
 */
export async function runInstancesInput(
  api: Ec2Api,
  rootDevices: RootDevices,
  launch: Ec2LaunchSettings,
  service: string,
  context: LaunchContext,
): Promise<RunInstancesCommandInput> {
  const tags = launchTags(service, context, launch.tags);
  const root =
    launch.rootVolumeGb === undefined
      ? undefined
      : await rootDevice(api, rootDevices, launch, service, context.signal);
  const data =
    launch.userDataFile === undefined ? undefined : await userData(launch.userDataFile, service);
  return {
    ImageId: launch.image,
    MinCount: 1,
    MaxCount: 1,
    ClientToken: context.token,
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
    // The SDK's list of types is closed; newer ones (and other clouds' own) are sent as written.
    ...(launch.instanceType !== undefined && {
      InstanceType: launch.instanceType as _InstanceType,
    }),
    ...(launch.keyName !== undefined && { KeyName: launch.keyName }),
    ...(launch.securityGroupIds.length > 0 && { SecurityGroupIds: [...launch.securityGroupIds] }),
    ...(launch.securityGroupNames.length > 0 && {
      SecurityGroups: [...launch.securityGroupNames],
    }),
    ...(launch.subnet !== undefined && { SubnetId: launch.subnet }),
    ...(launch.availabilityZone !== undefined && {
      Placement: { AvailabilityZone: launch.availabilityZone },
    }),
    ...(launch.iamInstanceProfile !== undefined && {
      IamInstanceProfile:
        'arn' in launch.iamInstanceProfile
          ? { Arn: launch.iamInstanceProfile.arn }
          : { Name: launch.iamInstanceProfile.name },
    }),
    ...(data !== undefined && { UserData: data }),
    ...(root !== undefined && {
      BlockDeviceMappings: [{ DeviceName: root, Ebs: { VolumeSize: launch.rootVolumeGb } }],
    }),
    ...(launch.spot && {
      InstanceMarketOptions: {
        MarketType: 'spot',
        SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
      },
    }),
    ...(launch.ebsOptimized !== undefined && { EbsOptimized: launch.ebsOptimized }),
  };
}
