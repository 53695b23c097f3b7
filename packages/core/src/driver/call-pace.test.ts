import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallPace, MAX_SLOWDOWN } from './call-pace.js';

/** Starts `n` calls at once, lets `advanceMs` pass; resolves with their start times, in order. */
async function startTimes(pace: CallPace, n: number, advanceMs: number): Promise<number[]> {
  const calls = Array.from({ length: n }, () => pace.turn().then(() => Date.now()));
  await vi.advanceTimersByTimeAsync(advanceMs);
  return Promise.all(calls);
}

describe('CallPace (fake time)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('slows the pace by a quarter on a throttled answer, once for calls started before that', async () => {
    const pace = new CallPace(8);
    expect(await startTimes(pace, 3, 1000)).toEqual([0, 125, 250]);
    // All three were throttled: the first slows the pace, the other two were sent at the old pace.
    pace.throttled(1);
    pace.throttled(2);
    pace.throttled(3);
    expect(pace.perSecond).toBe(6);
    // Calls 4 and 5: the first at once (the last start was long ago), the next 1/6 s later.
    expect(await startTimes(pace, 2, 1000)).toEqual([1000, 1167]);
    // A call started after the decrease and throttled slows it again.
    pace.throttled(4);
    expect(pace.perSecond).toBe(4.5);
  });

  it('raises the pace by a quarter per accepted answer, up to the limit; old answers change nothing', async () => {
    const pace = new CallPace(16);
    await startTimes(pace, 3, 1000);
    pace.throttled(1);
    expect(pace.perSecond).toBe(12);
    pace.accepted(2);
    expect(pace.perSecond).toBe(12);
    await startTimes(pace, 3, 1000);
    pace.accepted(4);
    expect(pace.perSecond).toBe(15);
    pace.accepted(5);
    expect(pace.perSecond).toBe(16);
  });

  it(`slows down at most ${MAX_SLOWDOWN} times`, async () => {
    const pace = new CallPace(40);
    for (let ticket = 1; ticket <= 10; ticket++) {
      await startTimes(pace, 1, 1000);
      pace.throttled(ticket);
    }
    expect(pace.perSecond).toBe(40 / MAX_SLOWDOWN);
  });

  it('applies a decrease to calls already waiting, and starts at once after a quiet spell', async () => {
    const pace = new CallPace(10);
    const started: number[] = [];
    const calls = Array.from({ length: 3 }, () => pace.turn().then(() => started.push(Date.now())));
    await vi.advanceTimersByTimeAsync(0);
    pace.throttled(1);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all(calls);
    // The second call was due at 100 ms; at the new pace it starts at 134.
    expect(started).toEqual([0, 134, 268]);
    vi.setSystemTime(5000);
    const late = pace.turn().then(() => Date.now());
    await vi.advanceTimersByTimeAsync(0);
    expect(await late).toBe(5000);
  });

  it('gives the turn of an aborted call to the next one', async () => {
    const pace = new CallPace(10);
    const controller = new AbortController();
    const first = pace.turn();
    const aborted = pace.turn(controller.signal);
    const third = pace.turn().then((ticket) => ({ ticket, at: Date.now() }));
    await vi.advanceTimersByTimeAsync(50);
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await first).toBe(1);
    expect(await third).toEqual({ ticket: 2, at: 100 });
    await expect(pace.turn(controller.signal)).rejects.toThrow('stop');
  });
});
