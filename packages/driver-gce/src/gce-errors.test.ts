import { describe, expect, it } from 'vitest';
import { gceError, kindOf, operationFailure } from './gce-errors.js';

describe('GCE failures by kind', () => {
  it.each([
    [{ codes: ['ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS'], message: 'm' }, 'capacity'],
    [{ codes: ['RESOURCE_EXHAUSTED'], message: 'stockout' }, 'capacity'],
    [
      {
        httpStatus: 429,
        codes: ['RESOURCE_EXHAUSTED'],
        message: 'Quota exceeded for quota metric',
      },
      'throttled',
    ],
    [
      { httpStatus: 403, codes: ['rateLimitExceeded'], message: 'Rate Limit Exceeded' },
      'throttled',
    ],
    [{ httpStatus: 403, codes: ['userRateLimitExceeded'], message: 'm' }, 'throttled'],
    [{ codes: ['QUOTA_EXCEEDED'], message: "Quota 'CPUS' exceeded" }, 'quota'],
    [{ httpStatus: 403, codes: ['quotaExceeded'], message: 'm' }, 'quota'],
    [{ httpStatus: 403, codes: ['forbidden'], message: 'Required permission' }, 'auth'],
    [{ httpStatus: 401, codes: ['authError'], message: 'm' }, 'auth'],
    [{ httpStatus: 404, codes: ['notFound'], message: 'The resource was not found' }, 'not-found'],
    [
      {
        httpStatus: 400,
        codes: ['invalid'],
        message:
          "Invalid value for field 'resource.networkInterfaces[0].network': 'x'. The referenced network resource cannot be found.",
      },
      'not-found',
    ],
    [
      { httpStatus: 400, codes: ['invalid'], message: "Invalid value for field 'resource.name'" },
      'invalid-request',
    ],
    [{ httpStatus: 503, codes: ['backendError'], message: 'm' }, 'transient'],
    [{ httpStatus: 500, codes: [], message: 'm' }, 'transient'],
    [
      { codes: [], message: 'request to http://127.0.0.1:1/ failed, reason: socket hang up' },
      'transient',
    ],
  ] as const)('%j is %s', (failure, kind) => {
    expect(kindOf(failure)).toBe(kind);
  });

  it('reads the failure of a finished operation, and none of a good one', () => {
    expect(operationFailure({ status: 'DONE' } as never)).toBeUndefined();
    expect(
      operationFailure({
        error: { errors: [{ code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded." }] },
      }),
    ).toEqual({ codes: ['QUOTA_EXCEEDED'], message: "Quota 'CPUS' exceeded." });
  });

  it('says which key to fix for a missing subject', () => {
    const error = gceError(
      {
        httpStatus: 404,
        codes: ['notFound'],
        message: "The resource 'projects/p/global/networks/n' was not found",
      },
      { service: 'web', subject: 'network projects/p/global/networks/n', key: 'gce_network' },
    );
    expect(error.message).toBe(
      "gce: service web: network projects/p/global/networks/n does not exist: The resource 'projects/p/global/networks/n' was not found (GCE 404 notFound); check gce_network (check the name and the project it is in)",
    );
    expect(error.instanceId).toBeUndefined();
  });
});
