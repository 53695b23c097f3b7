import { describe, expect, it } from 'vitest';
import { envVariableName, isDeferredValue, parseBoolean } from './values.js';

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
