/**
 * The EC2 driver's typed settings, parsed from plan keys. Every problem is
 * collected and reported at once, naming the key, what it holds and what
 * was expected. Parsing does no I/O (the `user_data` file is read at launch).
 */
import { CloudbootError, type DriverSettings, type LaunchSpec } from '@cloudboot/core';

/** Plan keys of this driver that hold credentials (never stored, logged or shown). */
export const EC2_CREDENTIAL_KEYS: readonly string[] = [
  'iaas_key',
  'iaas_secret',
  'aws_session_token',
];

/** The `aws_`-prefixed keys this driver reads; any other `aws_` key is a typo. */
export const EC2_AWS_KEYS: readonly string[] = ['aws_profile', 'aws_session_token'];

/** Which address SSH uses, and which one `describe` reports as `address`. */
export type SshAddress = 'public' | 'private';

/** Where and as whom the driver talks to EC2. */
export interface Ec2AccountSettings {
  /** `iaas`, else `AWS_REGION`/`AWS_DEFAULT_REGION`; absent: the SDK reads the profile's region. */
  readonly region?: string;
  /** `iaas_url`: an EC2-compatible endpoint instead of AWS's. */
  readonly endpoint?: string;
  /** `iaas_key`/`iaas_secret`(/`aws_session_token`); absent: the SDK's default chain. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** `aws_profile`: the shared-config profile the default chain reads. */
  readonly profile?: string;
  readonly sshAddress: SshAddress;
}

/** What one `RunInstances` call asks for. */
export interface Ec2LaunchSettings {
  /** An AMI id, or `resolve:ssm:PARAMETER` (EC2 resolves it). */
  readonly image: string;
  readonly instanceType?: string;
  readonly keyName?: string;
  /** `securitygroups` entries starting with `sg-`. */
  readonly securityGroupIds: readonly string[];
  /** The other `securitygroups` entries: group names. */
  readonly securityGroupNames: readonly string[];
  readonly subnet?: string;
  readonly availabilityZone?: string;
  /** `iam_instance_profile`: an ARN (`arn:…`) or a profile name. */
  readonly iamInstanceProfile?: { readonly arn: string } | { readonly name: string };
  /** Path of the `user_data` file. */
  readonly userDataFile?: string;
  readonly rootVolumeGb?: number;
  readonly spot: boolean;
  readonly ebsOptimized?: boolean;
  /** Extra tags from `tags: k1=v1,k2=v2`. */
  readonly tags: Readonly<Record<string, string>>;
}

/** Everything a launch needs. */
export interface Ec2Settings {
  readonly account: Ec2AccountSettings;
  readonly launch: Ec2LaunchSettings;
}

/** The plan keys of the EC2 driver are wrong; lists every problem. */
export class Ec2SettingsError extends CloudbootError {
  constructor(readonly problems: readonly string[]) {
    super(
      'EC2_SETTINGS',
      problems.length === 1
        ? `the ec2 driver's plan keys have a problem: ${problems[0]}`
        : `the ec2 driver's plan keys have ${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
  }
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);
const MAX_TAGS = 50;
/** Tags cloudboot itself puts on every instance (the three `cloudboot-` tags and Name). */
const OWN_TAG_COUNT = 4;

/** Collects problems while reading keys. */
class Reader {
  readonly problems: string[] = [];

  constructor(readonly values: Readonly<Record<string, string>>) {}

  text(key: string): string | undefined {
    const value = this.values[key]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  bool(key: string): boolean | undefined {
    const value = this.text(key);
    if (value === undefined) return undefined;
    const word = value.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    this.problems.push(`${key} is "${value}"; expected true or false`);
    return undefined;
  }

  problem(key: string, message: string): void {
    this.problems.push(`${key} is "${this.values[key] ?? ''}"; ${message}`);
  }
}

function readAccount(r: Reader, env: NodeJS.ProcessEnv): Ec2AccountSettings {
  for (const key of Object.keys(r.values).sort()) {
    if (key.startsWith('aws_') && !EC2_AWS_KEYS.includes(key)) {
      r.problems.push(
        `${key} is not a key of the ec2 driver; expected one of ${EC2_AWS_KEYS.join(', ')}`,
      );
    }
  }
  const region = r.text('iaas') ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
  if (region !== undefined && !/^[A-Za-z0-9_.-]+$/.test(region)) {
    r.problem('iaas', 'expected an EC2 region name such as us-east-1');
  }
  const endpoint = r.text('iaas_url');
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    r.problem('iaas_url', 'expected the http(s) URL of an EC2-compatible endpoint');
  }
  const accessKeyId = r.text('iaas_key');
  const secretAccessKey = r.text('iaas_secret');
  const sessionToken = r.text('aws_session_token');
  const profile = r.text('aws_profile');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    r.problems.push(
      `${accessKeyId === undefined ? 'iaas_secret' : 'iaas_key'} is given without ${accessKeyId === undefined ? 'iaas_key' : 'iaas_secret'}; expected both (an access key id and its secret) or neither (the AWS default credential chain)`,
    );
  }
  if (sessionToken !== undefined && accessKeyId === undefined) {
    r.problems.push(
      'aws_session_token is given without iaas_key and iaas_secret; expected the temporary key id and secret it belongs to',
    );
  }
  if (profile !== undefined && accessKeyId !== undefined) {
    r.problems.push(
      'aws_profile and iaas_key are both given; expected one source of credentials: explicit keys or a profile',
    );
  }
  const sshAddress = r.text('ssh_address') ?? 'public';
  if (sshAddress !== 'public' && sshAddress !== 'private') {
    r.problem('ssh_address', 'expected public or private');
  }
  return {
    ...(region !== undefined && { region }),
    ...(endpoint !== undefined && { endpoint }),
    ...(accessKeyId !== undefined &&
      secretAccessKey !== undefined && {
        credentials: {
          accessKeyId,
          secretAccessKey,
          ...(sessionToken !== undefined && { sessionToken }),
        },
      }),
    ...(profile !== undefined && { profile }),
    sshAddress: sshAddress === 'private' ? 'private' : 'public',
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function readTags(r: Reader): Record<string, string> {
  const text = r.text('tags');
  const tags: Record<string, string> = {};
  if (text === undefined) return tags;
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    const key = (at < 0 ? pair : pair.slice(0, at)).trim();
    const value = at < 0 ? '' : pair.slice(at + 1).trim();
    if (at < 0 || key === '') {
      r.problem('tags', `"${pair.trim()}" is not KEY=VALUE; expected k1=v1,k2=v2`);
    } else if (key.startsWith('cloudboot-') || key.toLowerCase().startsWith('aws:')) {
      r.problem(
        'tags',
        `tag ${key} is reserved (cloudboot- tags are set by cloudboot, aws: tags by AWS); expected other tag keys`,
      );
    } else if (key.length > 128 || value.length > 256) {
      r.problem(
        'tags',
        `tag ${key} is too long; expected keys of at most 128 and values of at most 256 characters`,
      );
    } else {
      tags[key] = value;
    }
  }
  if (Object.keys(tags).length > MAX_TAGS - OWN_TAG_COUNT) {
    r.problem(
      'tags',
      `expected at most ${MAX_TAGS - OWN_TAG_COUNT} tags (EC2 allows ${MAX_TAGS}, cloudboot sets ${OWN_TAG_COUNT})`,
    );
  }
  return tags;
}

/** The launch settings that come from the service's own keys, not from the launch spec. */
type LaunchKeys = Omit<
  Ec2LaunchSettings,
  'image' | 'instanceType' | 'keyName' | 'securityGroupIds' | 'securityGroupNames'
>;

function readLaunchKeys(r: Reader): LaunchKeys {
  const rootText = r.text('root_volume_gb');
  let rootVolumeGb: number | undefined;
  if (rootText !== undefined) {
    rootVolumeGb = Number(rootText);
    if (!/^\d+$/.test(rootText) || rootVolumeGb < 1 || rootVolumeGb > 65_536) {
      r.problem('root_volume_gb', 'expected a whole number of GiB from 1 to 65536');
      rootVolumeGb = undefined;
    }
  }
  const profile = r.text('iam_instance_profile');
  const spot = r.bool('spot') ?? false;
  const ebsOptimized = r.bool('ebs_optimized');
  const subnet = r.text('subnet');
  const availabilityZone = r.text('availability_zone');
  const userDataFile = r.text('user_data');
  return {
    ...(subnet !== undefined && { subnet }),
    ...(availabilityZone !== undefined && { availabilityZone }),
    ...(profile !== undefined && {
      iamInstanceProfile: profile.startsWith('arn:') ? { arn: profile } : { name: profile },
    }),
    ...(userDataFile !== undefined && { userDataFile }),
    ...(rootVolumeGb !== undefined && { rootVolumeGb }),
    spot,
    ...(ebsOptimized !== undefined && { ebsOptimized }),
    tags: readTags(r),
  };
}

function readLaunch(r: Reader, spec: LaunchSpec): Ec2LaunchSettings {
  const image = spec.image?.trim() ?? '';
  if (image === '')
    r.problems.push('image is not given; expected an AMI id or resolve:ssm:PARAMETER');
  const groups = spec.securityGroups.map((g) => g.trim()).filter((g) => g !== '');
  return {
    image,
    ...(spec.allocation !== undefined &&
      spec.allocation !== '' && { instanceType: spec.allocation }),
    ...(spec.keyName !== undefined && spec.keyName !== '' && { keyName: spec.keyName }),
    securityGroupIds: groups.filter((g) => g.startsWith('sg-')),
    securityGroupNames: groups.filter((g) => !g.startsWith('sg-')),
    ...readLaunchKeys(r),
  };
}

/**
 * The account settings a driver is created with (region, endpoint,
 * credentials, profile, `ssh_address`). Every other key of the driver that is
 * given (`root_volume_gb`, `spot`, `tags`, …) is checked too, and unknown
 * `aws_` keys refused, so a plan's problems are reported together, before
 * anything is launched.
 * @throws Ec2SettingsError listing every problem.
 */
export function parseAccountSettings(
  settings: DriverSettings,
  env: NodeJS.ProcessEnv = process.env,
): Ec2AccountSettings {
  const r = new Reader(settings);
  const account = readAccount(r, env);
  readLaunchKeys(r);
  if (r.problems.length > 0) throw new Ec2SettingsError(r.problems);
  return account;
}

/**
 * Everything one launch needs, from the launch spec and every key of the
 * service (`spec.options`): account and launch problems reported together.
 * @throws Ec2SettingsError listing every problem.
 */
export function parseLaunchSettings(
  spec: LaunchSpec,
  env: NodeJS.ProcessEnv = process.env,
): Ec2Settings {
  const r = new Reader(spec.options);
  const account = readAccount(r, env);
  const launch = readLaunch(r, spec);
  if (r.problems.length > 0) throw new Ec2SettingsError(r.problems);
  return { account, launch };
}
