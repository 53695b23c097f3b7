import { describe, expect, it } from 'vitest';
import {
  instanceName,
  labelKey,
  labelValue,
  requestIdFor,
  sanitiseLabels,
  tokenSuffix,
} from './gce-names.js';

const LABEL = /^[a-z0-9_-]{0,63}$/;
const KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

describe('GCE label sanitiser', () => {
  it('lower-cases and replaces dots and other characters', () => {
    expect(labelValue('Demo.Run')).toBe('demo-run');
    expect(labelValue('web_tier-2')).toBe('web_tier-2');
    expect(labelValue('A b/c')).toBe('a-b-c');
    expect(labelValue('')).toBe('');
    expect(labelKey('Cost.Center')).toBe('cost-center');
  });

  it('starts keys with a letter', () => {
    expect(labelKey('2fa')).toBe('k2fa');
    expect(labelKey('_x')).toBe('k_x');
    expect(KEY.test(labelKey('9.9'))).toBe(true);
  });

  it('keeps long values at 63 characters and different from each other', () => {
    const a = `${'Very.Long.Run.Name.'.repeat(5)}A`;
    const b = `${'Very.Long.Run.Name.'.repeat(5)}B`;
    expect(labelValue(a)).toHaveLength(63);
    expect(labelValue(a)).toMatch(LABEL);
    expect(labelValue(a)).not.toBe(labelValue(b));
    expect(labelValue(a).startsWith('very-long-run-name-very-long')).toBe(true);
    expect(labelKey(a)).toMatch(KEY);
  });

  it('sanitises whole label sets, keeping UUID tokens as they are', () => {
    const token = '3f2a1b2c-0000-4000-8000-000000000001';
    expect(
      sanitiseLabels({ 'cloudboot-run': 'My.Run', 'cloudboot-token': token, Team: 'Data' }),
    ).toEqual({ 'cloudboot-run': 'my-run', 'cloudboot-token': token, team: 'data' });
  });
});

describe('GCE instance names', () => {
  it('are cb-<run>-<service>-<token prefix>', () => {
    expect(instanceName('Demo.Run', 'web-0', '3F2A1B2C-0000-4000-8000-000000000001')).toBe(
      'cb-demo-run-web-0-3f2a1b2c',
    );
  });

  it('fit GCE name rules for any run and service', () => {
    const token = 'not-a-uuid-token';
    for (const [run, service] of [
      ['R'.repeat(80), 'S'.repeat(80)],
      ['..', '__'],
      ['9lives', 'UPPER.case'],
      ['run', 'x'.repeat(60)],
    ] as const) {
      const name = instanceName(run, service, token);
      expect(name).toMatch(NAME);
      expect(name.endsWith(`-${tokenSuffix(token)}`)).toBe(true);
    }
    expect(instanceName('R'.repeat(80), 'S'.repeat(80), token)).toHaveLength(63);
  });

  it('differ for different tokens of the same service', () => {
    expect(instanceName('r', 's', 'token-a')).not.toBe(instanceName('r', 's', 'token-b'));
  });
});

describe('GCE requestId', () => {
  it('is a UUID derived from the launch token: same token, same id', () => {
    const id = requestIdFor('3f2a1b2c-0000-4000-8000-000000000001');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdFor('3f2a1b2c-0000-4000-8000-000000000001')).toBe(id);
    expect(requestIdFor('3f2a1b2c-0000-4000-8000-000000000002')).not.toBe(id);
  });
});
