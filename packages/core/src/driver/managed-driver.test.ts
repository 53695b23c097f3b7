import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DriverError } from '../errors.js';
import type { Driver, InstanceInfo, InstanceState, RequestPace } from './driver.js';
import {
  DEFAULT_CALLS_PER_SECOND,
  MAX_RETRY_AFTER_MS,
  ManagedDriver,
  THROTTLED_RETRY_FACTOR,
  toDriverError,
} from './managed-driver.js';
import { DriverRegistry, throttledBetween, withPolicy } from './registry.js';

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

    const transient = scriptedCloud({
      launchErrors: Array.from(
        { length: 10 },
        () => new DriverError('transient', 'scripted', 'try again'),
      ),
    });
    await expect(
      new ManagedDriver(transient.driver, fast).launch(spec, { token: 't', tags: {} }),
    ).rejects.toMatchObject({ kind: 'transient' });
    expect(transient.calls.launch).toHaveLength(4);

    // A throttled answer only asks to slow down: three times the retries (3 × 3 here).
    const throttled = scriptedCloud({
      launchErrors: Array.from(
        { length: 20 },
        () => new DriverError('throttled', 'scripted', 'slow down'),
      ),
    });
    await expect(
      new ManagedDriver(throttled.driver, fast).launch(spec, { token: 't', tags: {} }),
    ).rejects.toMatchObject({ kind: 'throttled' });
    expect(throttled.calls.launch).toHaveLength(10);
  });

  it('counts throttled and transient retries apart', async () => {
    const errors = [
      ...Array.from({ length: 9 }, () => new DriverError('throttled', 'scripted', 'slow down')),
      new DriverError('transient', 'scripted', 'try again'),
      new DriverError('transient', 'scripted', 'try again'),
      new DriverError('transient', 'scripted', 'try again'),
    ];
    const mixed = scriptedCloud({ launchErrors: errors });
    await expect(
      new ManagedDriver(mixed.driver, fast).launch(spec, { token: 't', tags: {} }),
    ).resolves.toEqual({ instanceId: 'i-t' });
    expect(mixed.calls.launch).toHaveLength(13);
    expect(THROTTLED_RETRY_FACTOR).toBe(3);
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

/** A cloud that records when each call started (fake time) and answers from a script. */
function recordingCloud(options: {
  launchesMachines?: boolean;
  findsByTags?: boolean;
  /** Errors thrown by the next calls of any method, in order. */
  errors?: Error[];
  /** Per instance, the state of each describe round (the last one repeats). */
  states?: Record<string, InstanceState[]>;
}) {
  const log: Array<{ method: string; at: number; args: unknown }> = [];
  const rounds = new Map<string, number>();
  const step = (method: string, args: unknown) => {
    log.push({ method, at: Date.now(), args });
    const error = options.errors?.shift();
    if (error !== undefined) throw error;
  };
  const driver: Driver = {
    name: 'recorded',
    capabilities: {
      launchesMachines: options.launchesMachines ?? true,
      findsByTags: options.findsByTags ?? false,
    },
    async launch(_spec, { token }) {
      step('launch', token);
      return { instanceId: `i-${token}` };
    },
    async describe(ids) {
      step('describe', [...ids]);
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
    async terminate(ids) {
      step('terminate', [...ids]);
    },
    async validate() {
      step('validate', null);
    },
    async findByTags(tags) {
      step('findByTags', tags);
      return [{ instanceId: 'i-found', state: 'running', nativeState: 'up' }];
    },
  };
  return {
    driver,
    log,
    at: (method: string) => log.filter((c) => c.method === method).map((c) => c.at),
  };
}

const throttled = () => new DriverError('throttled', 'recorded', 'slow down');
/** No backoff pause, so call times show the rate limiter alone. */
const noBackoff = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

/** Settles `promise` into a record of when and how (fake time). */
function timed<T>(promise: Promise<T>) {
  const outcome: { at?: number; value?: T; error?: Error } = {};
  promise.then(
    (value) => Object.assign(outcome, { at: Date.now(), value }),
    (error: Error) => Object.assign(outcome, { at: Date.now(), error }),
  );
  return outcome;
}

describe('ManagedDriver rules (fake time)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts calls of one account 1/callsPerSecond apart, whichever method they are', async () => {
    const { driver, log } = recordingCloud({});
    const managed = new ManagedDriver(driver, { callsPerSecond: 10 });
    const calls = [
      managed.describe(['a']),
      managed.terminate(['a']),
      managed.validate(),
      managed.launch(spec, { token: 't', tags: {} }),
      managed.describe(['b']),
    ];
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(calls);
    expect(log.map((c) => [c.method, c.at])).toEqual([
      ['describe', 0],
      ['terminate', 100],
      ['validate', 200],
      ['launch', 300],
      ['describe', 400],
    ]);
    // After a quiet spell calls start at once, but are spaced again from then on.
    vi.setSystemTime(5000);
    const late = [managed.validate(), managed.validate()];
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(late);
    expect(log.slice(-2).map((c) => c.at)).toEqual([5000, 5100]);
  });

  it('defaults to DEFAULT_CALLS_PER_SECOND, and does not limit drivers of existing machines', async () => {
    expect(DEFAULT_CALLS_PER_SECOND).toBe(20);
    const cloud = recordingCloud({});
    const managed = new ManagedDriver(cloud.driver);
    const calls = [managed.validate(), managed.validate(), managed.validate()];
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(calls);
    expect(cloud.at('validate')).toEqual([0, 50, 100]);

    const existing = recordingCloud({ launchesMachines: false });
    const unlimited = new ManagedDriver(existing.driver, { callsPerSecond: 1 });
    const now = Date.now();
    const free = [unlimited.validate(), unlimited.validate(), unlimited.validate()];
    await vi.advanceTimersByTimeAsync(0);
    await Promise.all(free);
    expect(existing.at('validate')).toEqual([now, now, now]);
  });

  it('makes retries wait for the limiter too, and stops after the retry budget', async () => {
    const blip = () => new DriverError('transient', 'recorded', 'blip');
    const { driver, at } = recordingCloud({ errors: [blip(), blip(), blip()] });
    const managed = new ManagedDriver(driver, { callsPerSecond: 4, retry: noBackoff });
    const outcome = timed(managed.terminate(['a']));
    await vi.advanceTimersByTimeAsync(2000);
    expect(at('terminate')).toEqual([0, 250, 500]);
    expect(outcome.error).toMatchObject({ kind: 'transient', message: 'recorded: blip' });
    expect(outcome.at).toBe(500);
  });

  it('spaces later calls further apart after a throttled answer, and closer again after accepted ones', async () => {
    const { driver, at } = recordingCloud({ errors: [throttled()] });
    const managed = new ManagedDriver(driver, { callsPerSecond: 10, retry: noBackoff });
    // The first call is throttled (7.5 calls/s from then on) and retried last; each accepted
    // answer raises the pace by a quarter (9.4 calls/s, then the limit of 10), applied when
    // the next call's timer fires.
    const calls = [managed.validate(), managed.validate(), managed.validate()];
    await vi.advanceTimersByTimeAsync(2000);
    await Promise.all(calls);
    expect(at('validate')).toEqual([0, 134, 267, 373]);
    // Back at the limit: 100 ms apart.
    vi.setSystemTime(5000);
    const later = [managed.validate(), managed.validate()];
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(later);
    expect(at('validate').slice(-2)).toEqual([5000, 5100]);
  });

  it('paces each API request of a driver that takes the pace, counts requests, and retries a throttled one alone', async () => {
    const sent: number[] = [];
    const launched: string[] = [];
    let pace: RequestPace | undefined;
    let refusals = 1;
    const kindOf = (error: unknown) => (error as DriverError).kind;
    // A launch is three requests (a lookup, the create, a wait); the very first one is throttled.
    const driver: Driver = {
      name: 'requests',
      capabilities: { launchesMachines: true, findsByTags: false },
      usePace(given) {
        pace = given;
      },
      async launch(_spec, { token, signal }) {
        launched.push(token);
        for (let i = 0; i < 3; i++) {
          await pace?.request(
            async () => {
              sent.push(Date.now());
              if (refusals-- > 0) throw throttled();
            },
            { signal, kindOf },
          );
        }
        return { instanceId: `i-${token}` };
      },
      describe: async () => [],
      terminate: async () => {},
      validate: async () => {},
    };
    const managed = new ManagedDriver(driver, { callsPerSecond: 10, retry: noBackoff });
    expect(pace).toBeDefined();
    const launches = [
      timed(managed.launch(spec, { token: 'a', tags: {} })),
      timed(managed.launch(spec, { token: 'b', tags: {} })),
    ];
    await vi.advanceTimersByTimeAsync(5000);
    expect(launches.map((l) => l.value)).toEqual([{ instanceId: 'i-a' }, { instanceId: 'i-b' }]);
    // Requests, not calls, are spaced: 2/15 s after the throttled answer (7.5 requests/s),
    // closer again after accepted ones (as calls are: the new pace applies from the next
    // timer), and never a second wait per call on top.
    expect(sent).toEqual([0, 134, 267, 373, 473, 573, 673]);
    expect(managed.callCount).toEqual({ calls: 7, throttled: 1, limitPerSecond: 10 });
    // The throttled request was sent again; its launch was not started over.
    expect(launched).toEqual(['a', 'b']);
  });

  it('gives up on a request throttled past the budget, without starting the call over; waits its Retry-After', async () => {
    let pace: RequestPace | undefined;
    let launches = 0;
    const sent: number[] = [];
    const driver: Driver = {
      name: 'requests',
      capabilities: { launchesMachines: true, findsByTags: false },
      usePace(given) {
        pace = given;
      },
      async launch(_spec, { signal }) {
        launches += 1;
        await pace?.request(
          async () => {
            sent.push(Date.now());
            throw Object.assign(throttled(), { retryAfterMs: 1000 });
          },
          { signal, kindOf: (error) => (error as DriverError).kind },
        );
        return { instanceId: 'never' };
      },
      describe: async () => [],
      terminate: async () => {},
      validate: async () => {},
    };
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, retry: noBackoff });
    const outcome = timed(managed.launch(spec, { token: 't', tags: {} }));
    await vi.advanceTimersByTimeAsync(60_000);
    // attempts 3: two retries, three times as many for a throttled answer.
    expect(sent).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000]);
    expect(launches).toBe(1);
    expect(outcome.error).toMatchObject({ kind: 'throttled' });
    expect(managed.callCount).toMatchObject({ calls: 7, throttled: 7 });
  });

  it("waits before a retry at least as long as the cloud's Retry-After, up to MAX_RETRY_AFTER_MS", async () => {
    const asked = (retryAfterMs: number) =>
      new DriverError('throttled', 'recorded', 'slow down', { retryAfterMs });
    // An in-house driver's plain error with the same properties counts too.
    const plain = Object.assign(new Error('slow down'), { kind: 'throttled', retryAfterMs: 2500 });
    const { driver, at } = recordingCloud({
      errors: [asked(5000), plain, asked(10 * 60_000)],
    });
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, retry: noBackoff });
    const outcome = timed(managed.validate());
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    expect(MAX_RETRY_AFTER_MS).toBe(60_000);
    expect(at('validate')).toEqual([0, 5000, 7500, 67_500]);
    expect(outcome).toMatchObject({ at: 67_500, value: undefined });
  });

  it('retries every method, findByTags included, with the same arguments', async () => {
    const { driver, log } = recordingCloud({
      findsByTags: true,
      errors: [throttled(), new DriverError('transient', 'recorded', 'blip'), throttled()],
    });
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, retry: noBackoff });
    const found = managed.findByTags?.({ 'cloudboot-token': 'x' });
    const launched = managed.launch(spec, { token: 'tok', tags: {} });
    await vi.advanceTimersByTimeAsync(100);
    await expect(found).resolves.toEqual([
      { instanceId: 'i-found', state: 'running', nativeState: 'up' },
    ]);
    await expect(launched).resolves.toEqual({ instanceId: 'i-tok' });
    expect(log.filter((c) => c.method === 'launch').map((c) => c.args)).toEqual(['tok', 'tok']);
    // findByTags failed, launch failed, findByTags failed again, then both went through.
    expect(log.map((c) => c.method)).toEqual([
      'findByTags',
      'launch',
      'findByTags',
      'launch',
      'findByTags',
    ]);
  });

  it('offers findByTags only when the driver can, and makes no call for no ids', async () => {
    const cannot = recordingCloud({ findsByTags: false });
    const managed = new ManagedDriver(cannot.driver);
    expect(managed.findByTags).toBeUndefined();
    expect(managed.capabilities).toEqual({ launchesMachines: true, findsByTags: false });
    expect(managed.name).toBe('recorded');
    await expect(managed.describe([])).resolves.toEqual([]);
    await expect(managed.terminate([])).resolves.toBeUndefined();
    expect(cannot.log).toEqual([]);
    const can = new ManagedDriver(recordingCloud({ findsByTags: true }).driver);
    expect(can.capabilities.findsByTags).toBe(true);
    expect(can.findByTags).toBeTypeOf('function');
  });

  it('stops a call waiting for the limiter or for a retry when aborted, without calling the cloud again', async () => {
    const { driver, at } = recordingCloud({ errors: [throttled()] });
    const managed = new ManagedDriver(driver, {
      callsPerSecond: 1,
      retry: { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    const first = timed(managed.validate());
    await vi.advanceTimersByTimeAsync(0);
    const controller = new AbortController();
    const second = timed(managed.validate({ signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new Error('stop'));
    await vi.advanceTimersByTimeAsync(0);
    expect(second.error?.message).toBe('stop');
    expect(second.at).toBe(10);
    expect(at('validate')).toEqual([0]);
    // The first call was throttled and is in its backoff pause; abort that too.
    const third = new AbortController();
    const retrying = timed(
      managed.describe(['a'], { signal: third.signal }).catch((e: Error) => Promise.reject(e)),
    );
    third.abort(new Error('stop 3'));
    await vi.advanceTimersByTimeAsync(0);
    expect(retrying.error?.message).toBe('stop 3');
    expect(first.error).toBeUndefined();
  });

  it('rejects with the abort reason itself when aborted during a call (not a driver error)', async () => {
    const hanging: Driver = {
      ...recordingCloud({}).driver,
      launch: () => new Promise(() => {}),
    };
    const controller = new AbortController();
    const reason = new Error('interrupted');
    const launching = new ManagedDriver(hanging).launch(spec, {
      token: 't',
      tags: {},
      signal: controller.signal,
    });
    const outcome = timed(launching);
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome.error).toBe(reason);
  });

  it('gives up on each waiter of one instance at its own deadline; the others keep waiting', async () => {
    const { driver, at } = recordingCloud({
      states: { a: ['pending', 'pending', 'pending', 'running'] },
    });
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, pollIntervalMs: 100 });
    const short = timed(managed.waitUntilRunning('a', 150));
    const long = timed(managed.waitUntilRunning('a', 10_000));
    await vi.advanceTimersByTimeAsync(1000);
    expect(at('describe')).toEqual([0, 100, 200, 300]);
    expect(short.at).toBe(200);
    expect(short.error).toMatchObject({
      kind: 'transient',
      message: 'recorded: instance a is still native-pending; gave up waiting for it to run',
    });
    expect(long.at).toBe(300);
    expect(long.value).toMatchObject({ instanceId: 'a', state: 'running', address: '127.0.0.9' });
  });

  it('gives up in the first round at or after the deadline, not before', async () => {
    const { driver, at } = recordingCloud({ states: { a: ['pending'] } });
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, pollIntervalMs: 100 });
    const waiting = timed(managed.waitUntilRunning('a', 200));
    await vi.advanceTimersByTimeAsync(1000);
    expect(waiting.at).toBe(200);
    expect(at('describe')).toEqual([0, 100, 200]);
    const just = timed(managed.waitUntilRunning('a', 201));
    await vi.advanceTimersByTimeAsync(1000);
    expect(just.at).toBe(1000 + 300);
  });

  it('tolerates exactly five rounds in a row of an unknown instance', async () => {
    const five = recordingCloud({
      states: { a: ['vanished', 'vanished', 'vanished', 'vanished', 'vanished', 'running'] },
    });
    const waited = timed(
      new ManagedDriver(five.driver, { callsPerSecond: 1000, pollIntervalMs: 10 }).waitUntilRunning(
        'a',
        60_000,
      ),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(waited.value).toMatchObject({ state: 'running' });
    expect(five.at('describe')).toHaveLength(6);

    const six = recordingCloud({
      states: {
        a: ['vanished', 'vanished', 'vanished', 'vanished', 'vanished', 'vanished', 'running'],
      },
    });
    const lost = timed(
      new ManagedDriver(six.driver, { callsPerSecond: 1000, pollIntervalMs: 10 }).waitUntilRunning(
        'a',
        60_000,
      ),
    );
    await vi.advanceTimersByTimeAsync(1000);
    expect(lost.error).toMatchObject({
      kind: 'not-found',
      message: 'recorded: instance a is vanished (native-vanished) instead of running',
    });
    expect(six.at('describe')).toHaveLength(6);
  });

  it('fails at once on stopped, and rejects every waiter of a round whose describe fails', async () => {
    const stopped = recordingCloud({ states: { a: ['stopped'] } });
    const w = timed(new ManagedDriver(stopped.driver).waitUntilRunning('a', 60_000));
    await vi.advanceTimersByTimeAsync(10);
    expect(w.error?.message).toBe(
      'recorded: instance a is stopped (native-stopped) instead of running',
    );

    const failing = recordingCloud({
      errors: [new DriverError('auth', 'recorded', 'bad key')],
    });
    const managed = new ManagedDriver(failing.driver);
    const x = timed(managed.waitUntilRunning('x', 60_000));
    const y = timed(managed.waitUntilRunning('y', 60_000));
    await vi.advanceTimersByTimeAsync(10);
    expect([x.error?.message, y.error?.message]).toEqual([
      'recorded: bad key',
      'recorded: bad key',
    ]);
    expect(failing.log.map((c) => c.args)).toEqual([['x', 'y']]);
  });

  it('an aborted waiter leaves the others of the same instance waiting', async () => {
    const { driver } = recordingCloud({ states: { a: ['pending', 'pending', 'running'] } });
    const managed = new ManagedDriver(driver, { callsPerSecond: 1000, pollIntervalMs: 100 });
    const controller = new AbortController();
    const aborted = timed(managed.waitUntilRunning('a', 60_000, controller.signal));
    const kept = timed(managed.waitUntilRunning('a', 60_000));
    await vi.advanceTimersByTimeAsync(50);
    controller.abort(new Error('enough'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(aborted).toMatchObject({ at: 50, error: new Error('enough') });
    expect(kept).toMatchObject({ at: 200, value: { state: 'running' } });
  });
});

describe('account policy', () => {
  it('api_retries sets the attempts (retries + 1) over the library policy; the plan wins', () => {
    const library = { retry: { attempts: 6, baseDelayMs: 7, maxDelayMs: 8 }, callsPerSecond: 3 };
    expect(withPolicy(library, {})).toEqual(library);
    expect(withPolicy(library, { retries: 0, callsPerSecond: 9 })).toEqual({
      retry: { attempts: 1, baseDelayMs: 7, maxDelayMs: 8 },
      callsPerSecond: 9,
    });
    expect(withPolicy(undefined, { retries: 2 })).toEqual({
      retry: { attempts: 3, baseDelayMs: 200, maxDelayMs: 10_000 },
    });
  });

  it('gives separate managed drivers to accounts whose policies differ', async () => {
    const created: string[] = [];
    const registry = new DriverRegistry({
      factories: {
        rec: (settings) => {
          created.push(JSON.stringify(settings));
          return recordingCloud({}).driver;
        },
      },
    });
    const a = await registry.get('rec', '/', { iaas: 'r1' }, { callsPerSecond: 5 });
    const same = await registry.get('rec', '/', { iaas: 'r1' }, { callsPerSecond: 5 });
    const faster = await registry.get('rec', '/', { iaas: 'r1' }, { callsPerSecond: 6 });
    const retrying = await registry.get(
      'rec',
      '/',
      { iaas: 'r1' },
      { callsPerSecond: 5, retries: 0 },
    );
    expect(same).toBe(a);
    expect(new Set([a, faster, retrying]).size).toBe(3);
    expect(created).toHaveLength(3);
  });
  it("counts each account's calls and throttled answers, and reports those throttled between two counts", async () => {
    const registry = new DriverRegistry({
      factories: { rec: () => recordingCloud({ errors: [throttled()] }).driver },
    });
    const before = await registry.callCounts();
    const east = await registry.get('rec', '/', { iaas: 'east' }, { callsPerSecond: 1000 });
    const west = await registry.get('rec', '/', { iaas: 'west' }, { callsPerSecond: 1000 });
    await east.validate();
    await west.validate();
    const middle = await registry.callCounts();
    // Each account's first call was throttled and retried.
    expect(throttledBetween(before, middle)).toEqual([
      { account: 'rec east', calls: 2, throttled: 1, limitPerSecond: 1000 },
      { account: 'rec west', calls: 2, throttled: 1, limitPerSecond: 1000 },
    ]);
    await east.validate();
    // Since the middle count: one call, none throttled.
    expect(throttledBetween(middle, await registry.callCounts())).toEqual([]);
    expect(east.callCount).toEqual({ calls: 3, throttled: 1, limitPerSecond: 1000 });
  });
});
