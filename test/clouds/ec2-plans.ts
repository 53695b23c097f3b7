/**
 * Plans that boot on the fake EC2: every service launches an instance
 * (`driver: ec2`, endpoint and credentials of the fake), and its programs
 * run over SSH on the sshd machine behind the instance's address, or
 * locally with `local_exe`.
 */

import type { FakeEc2Cloud } from '../fakes/ec2-cloud.js';
import type { SshHosts } from '../harness/sshd.js';

/** Environment the plans read the fake's credentials from (`env.NAME`). */
export function ec2Env(cloud: FakeEc2Cloud): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    FAKE_EC2_KEY: cloud.accessKeyId,
    FAKE_EC2_SECRET: cloud.secretAccessKey,
    // The SDK warns that Node 20 support ends in 2027; the tests read stderr.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    NO_COLOR: '1',
  };
}

/** `[cloud-fake]`: the fake's region, endpoint and credentials (read from the environment). */
export function ec2Profile(cloud: FakeEc2Cloud, extra = ''): string {
  return `[cloud-fake]\ndriver: ec2\niaas: ${cloud.region}\niaas_url: ${cloud.url}\niaas_key: env.FAKE_EC2_KEY\niaas_secret: env.FAKE_EC2_SECRET\n${extra}`;
}

/** `[defaults]` of a plan whose services run their programs over SSH on the instances. */
export function ec2SshDefaults(hosts: SshHosts, workdir: string, extra = ''): string {
  const port = hosts.hosts[0]?.port ?? 22;
  return `[defaults]\ncloud: fake\nimage: ami-0c10dbo0700000001\nallocation: t3.micro\nlocal_exe: false\nssh_username: ${hosts.username}\nlocalsshkeypath: ${hosts.clientKeyPath}\nssh_port: ${port}\nworkdir: ${workdir}\n${extra}`;
}
