import { describe, expect, it } from 'vitest';
import { downMessage, isDown } from './cloud-view.js';

describe('cloud views', () => {
  it('counts stopping, stopped, terminated and vanished instances as down, nothing else', () => {
    expect(
      (['pending', 'running', 'stopping', 'stopped', 'terminated', 'vanished'] as const).map(
        (state) => [state, isDown({ instanceId: 'i', state, nativeState: state })],
      ),
    ).toEqual([
      ['pending', false],
      ['running', false],
      ['stopping', true],
      ['stopped', true],
      ['terminated', true],
      ['vanished', true],
    ]);
    expect(isDown(undefined)).toBe(false);
    expect(isDown({ instanceId: 'i', error: 'describe failed' })).toBe(false);
  });

  it('says which instance is down, what the cloud called it and what to do', () => {
    expect(
      downMessage('run1', { instanceId: 'i-123', state: 'terminated', nativeState: 'terminated' }),
    ).toBe(
      "instance i-123 is terminated (the cloud says 'terminated'); run `cloudboot repair run1` to replace it",
    );
  });
});
