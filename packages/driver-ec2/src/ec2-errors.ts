/**
 * EC2's error codes mapped onto cloudboot's error kinds, with a message that
 * names the service, the call, EC2's own code and what to do about it. The
 * codes are those of the EC2 API reference ("Error codes for the Amazon EC2
 * API"); the SDK raises each as an exception whose `name` is the code.
 */
import { DriverError, type DriverErrorKind } from '@cloudboot/core';

/** The driver's name, as plans select it (`driver: ec2`). */
export const EC2_DRIVER_NAME = 'ec2';

/** What a call asked for, so a not-found error can name it. */
export interface Ec2Asked {
  readonly image?: string;
  readonly keyName?: string;
  readonly securityGroups?: readonly string[];
  readonly subnet?: string;
  readonly region?: string;
}

const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);
const CAPACITY = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'Unsupported',
]);
const QUOTA = new Set([
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'VolumeLimitExceeded',
]);
const AUTH = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'OptInRequired',
  'PendingVerification',
  'Blocked',
  'CredentialsProviderError',
]);
const TRANSIENT = new Set([
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'TimeoutError',
  'RequestTimeout',
]);
/** Node's socket errors: the request may or may not have reached EC2. */
const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
]);

/** What EC2 (or the network under it) said: a code and its message. */
interface Said {
  readonly code: string;
  readonly message: string;
  readonly status?: number;
}

function said(thrown: unknown): Said {
  const e = (thrown ?? {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const message = typeof e.message === 'string' ? e.message : String(thrown);
  const status = e.$metadata?.httpStatusCode;
  const code =
    typeof e.code === 'string' && NETWORK.has(e.code)
      ? e.code
      : typeof e.name === 'string' && e.name !== 'Error'
        ? e.name
        : typeof e.code === 'string'
          ? e.code
          : /socket hang up/i.test(message)
            ? 'ECONNRESET'
            : 'Error';
  return { code, message, ...(status !== undefined && { status }) };
}

function kindOf({ code, status }: Said): DriverErrorKind {
  if (THROTTLED.has(code)) return 'throttled';
  if (CAPACITY.has(code)) return 'capacity';
  if (QUOTA.has(code)) return 'quota';
  if (AUTH.has(code)) return 'auth';
  if (
    code.startsWith('InvalidAMIID.') ||
    code === 'InvalidKeyPair.NotFound' ||
    code === 'InvalidGroup.NotFound' ||
    code.startsWith('InvalidSubnetID.')
  )
    return 'not-found';
  if (TRANSIENT.has(code) || NETWORK.has(code) || (status !== undefined && status >= 500))
    return 'transient';
  return 'invalid-request';
}

/** The kind of failure an SDK exception (or network error) is, for the account's pace. */
export function ec2Kind(thrown: unknown): DriverErrorKind {
  return kindOf(said(thrown));
}

const quote = (items: readonly string[] | undefined) =>
  (items ?? []).map((i) => `"${i}"`).join(', ');

/** What was asked for that EC2 did not find, and the plan key that says it. */
function missing(code: string, asked: Ec2Asked): string {
  const where = asked.region !== undefined ? ` in region ${asked.region}` : '';
  if (code.startsWith('InvalidAMIID.'))
    return `image "${asked.image ?? '?'}" does not exist${where} or is not visible to this account; check the image key (an AMI id of that region, or resolve:ssm:PARAMETER)`;
  if (code === 'InvalidKeyPair.NotFound')
    return `key pair "${asked.keyName ?? '?'}" does not exist${where}; check sshkeyname (a key pair imported into EC2 in that region)`;
  if (code === 'InvalidGroup.NotFound')
    return `security group ${quote(asked.securityGroups)} does not exist${where}; check securitygroups (group names of the default VPC, or sg- ids of the subnet's VPC)`;
  return `subnet "${asked.subnet ?? '?'}" does not exist${where}; check subnet (a subnet-… id in that region)`;
}

function advice(kind: DriverErrorKind, code: string, action: string): string {
  switch (kind) {
    case 'throttled':
      return 'EC2 limits API calls per account and region; cloudboot retries with backoff, and a lower api_calls_per_second avoids it';
    case 'capacity':
      return 'EC2 has no capacity for this request now; try another allocation or availability_zone, or retry later';
    case 'quota':
      return 'the account reached an EC2 quota; terminate unused instances or ask for a higher quota in Service Quotas';
    case 'auth':
      return `check the credentials (iaas_key/iaas_secret/aws_session_token, or aws_profile and the AWS credential chain), that they have not expired, and that they may call ec2:${action}`;
    case 'transient':
      return 'EC2 or the network failed; cloudboot retries, and resume continues where this stopped';
    default:
      return code === 'IdempotentParameterMismatch'
        ? 'this launch token was first used with other parameters: the plan changed since the launch began; terminate the service and boot it again'
        : 'check the plan keys this call uses';
  }
}

/**
 * The {@link DriverError} for what an EC2 call threw.
 * @param action The EC2 API action, e.g. `RunInstances`.
 * @param asked What the call asked for, named in `not-found` messages.
 */
export function ec2Error(thrown: unknown, action: string, asked: Ec2Asked = {}): DriverError {
  if (thrown instanceof DriverError) return thrown;
  const s = said(thrown);
  const kind = kindOf(s);
  const detail = `EC2 error ${s.code}: ${s.message}`;
  const message =
    kind === 'not-found'
      ? `EC2 ${action}: ${missing(s.code, asked)} (${detail})`
      : `EC2 ${action} failed (${detail}); ${advice(kind, s.code, action)}`;
  return new DriverError(kind, EC2_DRIVER_NAME, message, { cause: thrown });
}

/** The EC2 error code of what a call threw (`name` of SDK exceptions), or undefined. */
export function ec2Code(thrown: unknown): string | undefined {
  const name = (thrown as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}
