import { describe, expect, it } from 'vitest';
import {
  envVariableName,
  isDeferredValue,
  isRuledKey,
  parseBoolean,
  VALUE_RULES,
} from './values.js';

describe('plan values', () => {
  it('recognises exactly env.NAME', () => {
    expect(envVariableName('env.AWS_KEY')).toBe('AWS_KEY');
    expect(envVariableName('env.AWS_KEY ')).toBeUndefined();
    expect(envVariableName('x env.A')).toBeUndefined();
    expect(envVariableName('env.')).toBeUndefined();
  });

  it('defers env.NAME and values with references', () => {
    expect(isDeferredValue('env.HOME')).toBe(true);
    expect(isDeferredValue('a/${.dir}/b')).toBe(true);
    expect(isDeferredValue('$HOME/x')).toBe(false);
  });

  it('reads booleans in any case and rejects other words', () => {
    expect(['TRUE', 'yes', 'On', '1'].map(parseBoolean)).toEqual([true, true, true, true]);
    expect(['false', 'NO', 'off', '0'].map(parseBoolean)).toEqual([false, false, false, false]);
    expect(parseBoolean('maybe')).toBeUndefined();
  });
});

describe('value rules', () => {
  it('reads ssh_port as a whole port number and nothing else', () => {
    const { read, expected } = VALUE_RULES.ssh_port;
    expect(['22', '2222', '65535'].map(read)).toEqual([22, 2222, 65535]);
    expect(['0', '22.5', '70000', '-1', ' 22', 'ssh'].map(read)).toEqual(Array(6).fill(undefined));
    expect(expected).toBe('a whole number from 1 to 65535');
  });

  it('knows which keys it has a rule for', () => {
    expect(['ssh_port', 'pgm_timeout', 'workdir'].every(isRuledKey)).toBe(true);
    expect(['image', 'toString', 'constructor'].some(isRuledKey)).toBe(false);
  });
});
