import { describe, expect, it } from 'vitest';
import { DriverError } from '../errors.js';
import type { Driver, InstanceInfo, InstanceState } from './driver.js';
import { ManagedDriver, toDriverError } from './managed-driver.js';

/**
 * A scripted stand-in for a cloud: `launch` fails with the queued errors
 * first; `describe` answers from `states` (one list per instance, advanced
 * each round, the last state repeating).
 */
function scriptedCloud(options: {
  launchErrors?: Error[];
  states?: Record<string, InstanceState[]>;
}) {
  const calls = { launch: [] as string[], describe: [] as string[][] };
  const rounds = new Map<string, number>();
  const driver: Driver = {
    name: 'scripted',
    capabilities: { launchesMachines: true, findsByTags: false },
    async launch(_spec, { token }) {
      calls.launch.push(token);
      const error = options.launchErrors?.shift();
      if (error !== undefined) throw error;
      return { instanceId: `i-${token}` };
    },
    async describe(ids): Promise<InstanceInfo[]> {
      calls.describe.push([...ids]);
      return ids.map((instanceId) => {
        const script = options.states?.[instanceId] ?? ['running'];
        const round = rounds.get(instanceId) ?? 0;
        rounds.set(instanceId, round + 1);
        const state = script[Math.min(round, script.length - 1)] ?? 'running';
        return {
          instanceId,
          state,
          nativeState: `native-${state}`,
          ...(state === 'running' && { address: '127.0.0.9' }),
        };
      });
    },
    async terminate() {},
    async validate() {},
  };
  return { driver, calls };
}

const fast = {
  retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 },
  callsPerSecond: 1000,
  pollIntervalMs: 5,
};
const spec = { service: 's', securityGroups: [], options: {} };

describe('ManagedDriver', () => {
  it('retries throttled and transient launches with the same token', async () => {
    const { driver, calls } = scriptedCloud({
      launchErrors: [
        new DriverError('throttled', 'scripted', 'slow down'),
        new DriverError('transient', 'scripted', 'try again'),
      ],
    });
    const managed = new ManagedDriver(driver, fast);
    await expect(managed.launch(spec, { token: 't1', tags: {} })).resolves.toEqual({
      instanceId: 'i-t1',
    });
    expect(calls.launch).toEqual(['t1', 't1', 't1']);
  });

  it('does not retry errors that a retry cannot fix, and gives up after the last attempt', async () => {
    const capacity = scriptedCloud({
      launchErrors: [new DriverError('capacity', 'scripted', 'no room')],
    });
    await expect(
      new ManagedDriver(capacity.driver, fast).launch(spec, { token: 't', tags: {} }),
    ).rejects.toThrow('scripted: no room');
    expect(capacity.calls.launch).toHaveLength(1);

    const errors = Array.from(
      { length: 10 },
      () => new DriverError('throttled', 'scripted', 'slow down'),
    );
    const throttled = scriptedCloud({ launchErrors: errors });
    await expect(
      new ManagedDriver(throttled.driver, fast).launch(spec, { token: 't', tags: {} }),
    ).rejects.toMatchObject({
      kind: 'throttled',
    });
    expect(throttled.calls.launch).toHaveLength(4);
  });

  it('waits for many instances with one describe call per round', async () => {
    const { driver, calls } = scriptedCloud({
      states: { a: ['pending', 'pending', 'running'], b: ['pending', 'running'], c: ['running'] },
    });
    const managed = new ManagedDriver(driver, fast);
    const infos = await Promise.all(
      ['a', 'b', 'c'].map((id) => managed.waitUntilRunning(id, 5000)),
    );
    expect(infos.map((i) => [i.instanceId, i.address])).toEqual([
      ['a', '127.0.0.9'],
      ['b', '127.0.0.9'],
      ['c', '127.0.0.9'],
    ]);
    expect(calls.describe).toEqual([['a', 'b', 'c'], ['a', 'b'], ['a']]);
  });

  it('tolerates a new instance being unknown for a few rounds, but not for ever', async () => {
    const late = scriptedCloud({ states: { a: ['vanished', 'vanished', 'running'] } });
    await expect(
      new ManagedDriver(late.driver, fast).waitUntilRunning('a', 5000),
    ).resolves.toMatchObject({ state: 'running' });

    const gone = scriptedCloud({ states: { a: ['vanished'] } });
    await expect(new ManagedDriver(gone.driver, fast).waitUntilRunning('a', 5000)).rejects.toThrow(
      'scripted: instance a is vanished (native-vanished) instead of running',
    );
  });

  it('counts only unknown rounds in a row, and treats an id left out of the answer as unknown', async () => {
    const flaky = scriptedCloud({
      states: {
        a: [
          'vanished',
          'vanished',
          'vanished',
          'pending',
          'vanished',
          'vanished',
          'vanished',
          'running',
        ],
      },
    });
    await expect(
      new ManagedDriver(flaky.driver, fast).waitUntilRunning('a', 5000),
    ).resolves.toMatchObject({
      state: 'running',
    });
    const { driver } = scriptedCloud({});
    const forgetful: Driver = { ...driver, describe: async () => [] };
    await expect(new ManagedDriver(forgetful, fast).waitUntilRunning('a', 5000)).rejects.toThrow(
      'scripted: instance a is vanished (not described) instead of running',
    );
  });

  it('fails a wait when the instance ends up terminated, or at the deadline', async () => {
    const dead = scriptedCloud({ states: { a: ['pending', 'terminated'] } });
    await expect(
      new ManagedDriver(dead.driver, fast).waitUntilRunning('a', 5000),
    ).rejects.toMatchObject({
      kind: 'not-found',
      message: 'scripted: instance a is terminated (native-terminated) instead of running',
    });
    const slow = scriptedCloud({ states: { a: ['pending'] } });
    await expect(
      new ManagedDriver(slow.driver, fast).waitUntilRunning('a', 50),
    ).rejects.toMatchObject({
      kind: 'transient',
      message: 'scripted: instance a is still native-pending; gave up waiting for it to run',
    });
  });

  it('stops waiting when aborted', async () => {
    const { driver } = scriptedCloud({ states: { a: ['pending'] } });
    const controller = new AbortController();
    const waiting = new ManagedDriver(driver, fast).waitUntilRunning(
      'a',
      60_000,
      controller.signal,
    );
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});

describe('toDriverError', () => {
  it('keeps a known kind from an in-house driver error and treats anything else as not retryable', () => {
    const capacity = toDriverError(Object.assign(new Error('full'), { kind: 'capacity' }), 'pool');
    expect(capacity).toMatchObject({ kind: 'capacity', message: 'pool: full', retryable: false });
    expect(
      toDriverError(Object.assign(new Error('x'), { kind: 'throttled' }), 'pool').retryable,
    ).toBe(true);
    expect(toDriverError(new Error('boom'), 'pool')).toMatchObject({
      kind: 'invalid-request',
      message: 'pool: boom',
    });
    expect(toDriverError('text', 'pool').message).toBe('pool: text');
  });
});
