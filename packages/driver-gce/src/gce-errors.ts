/**
 * Compute Engine failures -> {@link DriverError} kinds, with a message that
 * names the service, the cloud's own code and what to do.
 *
 * Two places carry a failure: an HTTP answer (`{"error": {"code",
 * "message", "errors": [{"reason"}]}}`, which `google-gax` turns into a
 * `GoogleError` with `httpStatusCode` and the raw body), and a zone
 * operation that ends DONE with `error.errors[].code` (stockouts and quota
 * arrive this way).
 */
import { DriverError, type DriverErrorKind } from '@cloudboot/core';

/** The driver's name in messages. */
export const GCE = 'gce';

/** A failure reduced to what the mapping needs. */
export interface GceFailure {
  /** HTTP status of the answer; undefined when there was none (network) or for operation errors. */
  readonly httpStatus?: number;
  /** Google's reasons (`rateLimitExceeded`, `notFound` …) or operation error codes (`QUOTA_EXCEEDED` …). */
  readonly codes: readonly string[];
  readonly message: string;
}

/** What was being done, for the message. */
export interface GceErrorContext {
  /** The service being launched, when there is one. */
  readonly service?: string;
  /** What was asked for, e.g. `image projects/debian-cloud/global/images/family/debian-12`. */
  readonly subject?: string;
  /** The plan key to check for a not-found subject, e.g. `image`. */
  readonly key?: string;
}

const RAW_PAYLOAD = Symbol.for('google-gax.rawHttpResponsePayload');

/** Reasons from a Google JSON error body (`error.errors[].reason`, `error.status`). */
function reasonsOf(payload: unknown): string[] {
  if (typeof payload !== 'string') return [];
  try {
    const body = JSON.parse(payload) as {
      error?: { errors?: { reason?: string }[]; status?: string };
    };
    return [
      ...(body.error?.errors ?? []).map((e) => e.reason ?? '').filter((r) => r !== ''),
      ...(body.error?.status === undefined ? [] : [body.error.status]),
    ];
  } catch {
    return [];
  }
}

/** Reduces whatever the client threw to a {@link GceFailure}. */
export function failureOf(thrown: unknown): GceFailure {
  const error = thrown as {
    httpStatusCode?: unknown;
    message?: unknown;
    reason?: unknown;
    [RAW_PAYLOAD]?: unknown;
  };
  const httpStatus = typeof error?.httpStatusCode === 'number' ? error.httpStatusCode : undefined;
  const codes = reasonsOf(error?.[RAW_PAYLOAD]);
  if (typeof error?.reason === 'string' && error.reason !== '') codes.push(error.reason);
  const message = typeof error?.message === 'string' ? error.message : String(thrown);
  return { ...(httpStatus !== undefined && { httpStatus }), codes, message };
}

/** The failure carried by a finished zone operation, if it failed. */
export function operationFailure(operation: {
  error?: { errors?: { code?: string | null; message?: string | null }[] | null } | null;
  httpErrorStatusCode?: number | null;
  httpErrorMessage?: string | null;
}): GceFailure | undefined {
  const errors = operation.error?.errors ?? [];
  if (errors.length === 0) return undefined;
  return {
    codes: errors.map((e) => e.code ?? '').filter((c) => c !== ''),
    message: errors.map((e) => e.message ?? e.code ?? '').join('; '),
  };
}

const REFERENCED_MISSING = /referenced .* resource cannot be found|does not exist|was not found/i;

/** The kind of a failure (see the module comment for the rules). */
export function kindOf(failure: GceFailure): DriverErrorKind {
  const has = (test: (code: string) => boolean) => failure.codes.some(test);
  const status = failure.httpStatus;
  if (status === 429 || has((c) => c === 'rateLimitExceeded' || c === 'userRateLimitExceeded')) {
    return 'throttled';
  }
  if (
    has(
      (c) =>
        c.startsWith('ZONE_RESOURCE_POOL_EXHAUSTED') ||
        (c === 'RESOURCE_EXHAUSTED' && status === undefined) ||
        c === 'resourcePoolExhausted',
    )
  ) {
    return 'capacity';
  }
  if (has((c) => c === 'QUOTA_EXCEEDED' || c === 'quotaExceeded')) return 'quota';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || has((c) => c === 'notFound')) return 'not-found';
  if (status === 400 && REFERENCED_MISSING.test(failure.message)) return 'not-found';
  if (status === undefined && failure.codes.length === 0) return 'transient';
  if (status !== undefined && status >= 500) return 'transient';
  if (status === undefined && has((c) => c === 'INTERNAL_ERROR' || c === 'SERVICE_UNAVAILABLE')) {
    return 'transient';
  }
  return 'invalid-request';
}

const ADVICE: Readonly<Record<DriverErrorKind, string>> = {
  auth: 'check gce_credentials or gce_access_token (or the Application Default Credentials) and that the account may manage instances in the project',
  throttled:
    'the API rate limit was hit; cloudboot retries, and a lower api_calls_per_second avoids it',
  capacity:
    'the zone has no capacity for this machine type right now; try another zone (iaas) or machine type (allocation), or again later',
  quota:
    'a project quota is used up; ask for more in the Google Cloud console (IAM & Admin > Quotas) or launch fewer or smaller machines',
  'not-found': 'check the name and the project it is in',
  'invalid-request': 'check the service keys the gce driver reads',
  transient: 'Compute Engine failed for the moment; cloudboot retries',
};

/**
 * A {@link DriverError} for a Compute Engine failure.
 * @param instanceId set when the failure leaves an instance behind.
 */
export function gceError(
  failure: GceFailure,
  context: GceErrorContext = {},
  instanceId?: string,
): DriverError {
  const kind = kindOf(failure);
  const code = [failure.httpStatus, ...failure.codes].filter((c) => c !== undefined).join(' ');
  const service = context.service === undefined ? '' : `service ${context.service}: `;
  const subject =
    kind === 'not-found' && context.subject !== undefined
      ? `${context.subject} does not exist: `
      : '';
  const advice =
    kind === 'not-found' && context.key !== undefined
      ? `check ${context.key} (${ADVICE['not-found']})`
      : ADVICE[kind];
  return new DriverError(
    kind,
    GCE,
    `${service}${subject}${failure.message}${code === '' ? '' : ` (GCE ${code})`}; ${advice}`,
    { cause: failure, ...(instanceId !== undefined && { instanceId }) },
  );
}

/** {@link gceError} for whatever the client threw. */
export function toGceError(thrown: unknown, context: GceErrorContext = {}): DriverError {
  if (thrown instanceof DriverError) return thrown;
  return gceError(failureOf(thrown), context);
}
