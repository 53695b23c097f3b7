import { DriverError } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { cloudCallError, errorKind, parseCloudError, parseRetryAfter } from './openstack-errors.js';

describe('OpenStack error answers', () => {
  it('reads each service’s error format', () => {
    expect(
      parseCloudError(
        404,
        '{"itemNotFound": {"code": 404, "message": "Flavor 9 could not be found."}}',
      ),
    ).toEqual({ code: 'itemNotFound', message: 'Flavor 9 could not be found.' });
    expect(
      parseCloudError(
        401,
        '{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}',
      ),
    ).toEqual({
      code: 'Unauthorized',
      message: 'The request you have made requires authentication.',
    });
    expect(
      parseCloudError(
        404,
        '{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}',
      ),
    ).toEqual({ code: 'NetworkNotFound', message: 'Network x could not be found.' });
    expect(
      parseCloudError(
        404,
        '{"code": "404 Not Found", "title": "Not Found", "message": "No image found with ID x"}',
      ),
    ).toEqual({ code: 'Not Found', message: 'No image found with ID x' });
    expect(parseCloudError(502, '<html><body><h1>502 Bad Gateway</h1></body></html>')).toEqual({
      code: 'HTTP 502',
      message: '502 Bad Gateway',
    });
  });

  it('reads Retry-After as seconds or as an HTTP date, and nothing else', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Mon, 30 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 30 Nov 2026 11:59:00 GMT', now)).toBe(0);
    for (const bad of [null, '', '1.5', '-3', 'soon'])
      expect(parseRetryAfter(bad, now)).toBe(undefined);
  });

  it.each([
    [400, 'No valid host was found. There are not enough hosts available.', 'capacity'],
    [500, 'No valid host was found. ', 'capacity'],
    [413, 'This request was rate-limited.', 'throttled'],
    [429, 'Too many requests', 'throttled'],
    [
      413,
      'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances',
      'quota',
    ],
    [429, 'Quota exceeded for cores', 'quota'],
    [
      403,
      'Quota exceeded for instances: Requested 1, but already used 10 of 10 instances',
      'quota',
    ],
    [403, "Policy doesn't allow os_compute_api:servers:create to be performed.", 'auth'],
    [401, 'The request you have made requires authentication.', 'auth'],
    [404, 'Instance x could not be found.', 'not-found'],
    [400, 'Image 123 could not be found.', 'not-found'],
    [400, 'Security group bogus not found for project p.', 'not-found'],
    [400, 'Invalid key_name provided.', 'invalid-request'],
    [409, "Cannot 'delete' instance x while it is in task_state rebuilding", 'transient'],
    [
      409,
      'Multiple possible networks found, use a Network ID to be more specific.',
      'invalid-request',
    ],
    [503, 'Service Unavailable', 'transient'],
  ])('HTTP %i "%s" is %s', (status, message, kind) => {
    expect(errorKind(status, message)).toBe(kind);
  });

  it('names the service, the driver, the cloud’s code and what to do', () => {
    const error = cloudCallError({
      service: 'Nova',
      action: 'create server cb-r-web-1234abcd',
      status: 403,
      error: { code: 'forbidden', message: 'Quota exceeded for instances' },
    });
    expect(error).toBeInstanceOf(DriverError);
    expect(error.kind).toBe('quota');
    expect(error.message).toBe(
      "openstack: Nova: create server cb-r-web-1234abcd failed: forbidden (HTTP 403): Quota exceeded for instances; the project's quota is used up; delete what is not needed or ask the cloud's operators for more quota",
    );
  });
});
