/**
 * OpenStack answers -> {@link DriverError} kinds. Each service formats errors
 * its own way (Nova `{"itemNotFound": {"code": 404, "message": …}}`, Keystone
 * `{"error": {"code", "title", "message"}}`, Neutron `{"NeutronError":
 * {"type", "message"}}`, Glance `{"code": "404 Not Found", "title",
 * "message"}` or plain text); all are read here, and the message a user sees
 * names the service, the driver, the cloud's own code and what to do.
 */
import { DriverError, type DriverErrorKind } from '@cloudboot/core';

/** The driver's name, as plans select it (`driver: openstack`). */
export const OPENSTACK_DRIVER_NAME = 'openstack';

/** The OpenStack services this driver talks to. */
export type OpenstackService = 'Keystone' | 'Nova' | 'Glance' | 'Neutron';

/** What the cloud said, read from an error answer. */
export interface CloudError {
  /** The cloud's own name for the error (`itemNotFound`, `NetworkNotFound`, `Unauthorized` …). */
  readonly code: string;
  readonly message: string;
}

/** Reads the cloud's error code and message from an error answer's body. */
export function parseCloudError(status: number, body: string): CloudError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    const text = body
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return { code: `HTTP ${status}`, message: text.slice(0, 500) || '(no message)' };
  }
  if (parsed !== null && typeof parsed === 'object') {
    const record = parsed as Record<string, unknown>;
    const neutron = record.NeutronError as Record<string, unknown> | undefined;
    if (neutron !== undefined && typeof neutron === 'object') {
      return { code: String(neutron.type ?? `HTTP ${status}`), message: String(neutron.message) };
    }
    const keystone = record.error as Record<string, unknown> | undefined;
    if (keystone !== undefined && typeof keystone === 'object') {
      return {
        code: String(keystone.title ?? `HTTP ${status}`),
        message: String(keystone.message),
      };
    }
    if (typeof record.message === 'string') {
      // Glance (webob): {"code": "404 Not Found", "title": "Not Found", "message": …}
      return {
        code: String(record.title ?? record.code ?? `HTTP ${status}`),
        message: record.message,
      };
    }
    // Nova: one key naming the fault.
    const [name, fault] = Object.entries(record)[0] ?? [];
    if (name !== undefined && fault !== null && typeof fault === 'object') {
      const message = (fault as Record<string, unknown>).message;
      return { code: name, message: typeof message === 'string' ? message : JSON.stringify(fault) };
    }
  }
  return { code: `HTTP ${status}`, message: body.slice(0, 500) };
}

/** `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * The wait a `Retry-After` header asks for, in ms: delay-seconds (Nova's
 * over-limit answers send whole seconds) or an HTTP date, from `now`.
 * Undefined when the header is absent or neither.
 */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // The HTTP date format servers send (IMF-fixdate); Date.parse alone takes far more than dates.
  if (!IMF_FIXDATE.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const NO_VALID_HOST = /no valid host/i;
const QUOTA = /quota|exceeds? .*limit|limit exceeded/i;

/** The kind of an error answer, from its HTTP status and message. */
export function errorKind(status: number, message: string): DriverErrorKind {
  if (NO_VALID_HOST.test(message)) return 'capacity';
  if (status === 401) return 'auth';
  if (status === 403) return QUOTA.test(message) ? 'quota' : 'auth';
  if (status === 404) return 'not-found';
  if (status === 413 || status === 429) {
    return QUOTA.test(message) && !/rate.?limit/i.test(message) ? 'quota' : 'throttled';
  }
  if (status === 409) {
    // A server busy with another task answers 409 until the task ends; a conflict in the request never ends.
    return /task_state|vm_state|locked|in the process/i.test(message)
      ? 'transient'
      : 'invalid-request';
  }
  if (status === 400 && /could not be found|not found/i.test(message)) return 'not-found';
  if (status >= 500) return 'transient';
  return 'invalid-request';
}

const ADVICE: Readonly<Record<DriverErrorKind, string>> = {
  auth: 'check the credentials (os_cloud and clouds.yaml, iaas_url/iaas_key/iaas_secret, or the OS_* variables) and that this user may do this in the project',
  throttled:
    'the cloud limits the API call rate; cloudboot retries with backoff, and a lower api_calls_per_second avoids it',
  quota:
    "the project's quota is used up; delete what is not needed or ask the cloud's operators for more quota",
  capacity:
    'the cloud has no host for this flavor now; try another flavor (allocation) or region (iaas), or try later',
  'not-found':
    'check the name or id against what the cloud lists (openstack image/flavor/network list)',
  'invalid-request': 'correct the plan keys named in the message',
  transient: 'the cloud failed to answer; cloudboot retries, and if it persists try again later',
};

/** What to do about an error of this kind, as told to the user. */
export function adviceFor(kind: DriverErrorKind): string {
  return ADVICE[kind];
}

/** Context of a failed call, for the message. */
export interface CallFailure {
  readonly service: OpenstackService;
  /** What was being done: `create server cb-…`, `look up image "x"` … */
  readonly action: string;
  readonly status: number;
  readonly error: CloudError;
  /** Overrides the kind (e.g. `not-found` for a lookup that found nothing). */
  readonly kind?: DriverErrorKind;
  /** A server that exists although the call failed. */
  readonly instanceId?: string;
  /** The answer's `Retry-After`, in ms (see {@link parseRetryAfter}). */
  readonly retryAfterMs?: number;
}

/** The {@link DriverError} for a failed call. */
export function cloudCallError(failure: CallFailure): DriverError {
  const kind = failure.kind ?? errorKind(failure.status, failure.error.message);
  const status = failure.status > 0 ? ` (HTTP ${failure.status})` : '';
  return new DriverError(
    kind,
    OPENSTACK_DRIVER_NAME,
    `${failure.service}: ${failure.action} failed: ${failure.error.code}${status}: ${failure.error.message}; ${adviceFor(kind)}`,
    {
      ...(failure.instanceId !== undefined && { instanceId: failure.instanceId }),
      ...(failure.retryAfterMs !== undefined && { retryAfterMs: failure.retryAfterMs }),
    },
  );
}

/** A driver error raised by the driver itself (nothing answered, or nothing matched). */
export function driverError(
  kind: DriverErrorKind,
  service: OpenstackService,
  message: string,
  options: { cause?: unknown; instanceId?: string } = {},
): DriverError {
  return new DriverError(
    kind,
    OPENSTACK_DRIVER_NAME,
    `${service}: ${message}; ${adviceFor(kind)}`,
    options,
  );
}
