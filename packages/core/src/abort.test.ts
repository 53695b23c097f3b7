import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { abortable, onAbort } from './abort.js';

describe('onAbort', () => {
  it('waits for a signal with one listener, however many callers wait', () => {
    const controller = new AbortController();
    const called: number[] = [];
    const cancels = Array.from({ length: 1000 }, (_, i) =>
      onAbort(controller.signal, () => called.push(i)),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    for (const cancel of cancels.slice(0, 998)) cancel();
    controller.abort();
    controller.abort();
    expect(called).toEqual([998, 999]);
  });

  it('calls one listener given twice twice, and cancels each apart', () => {
    const controller = new AbortController();
    let calls = 0;
    const listener = () => calls++;
    onAbort(controller.signal, listener);
    const cancel = onAbort(controller.signal, listener);
    cancel();
    controller.abort();
    expect(calls).toBe(1);
  });

  it('lets abortable() reject at the abort and settle otherwise', async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => {});
    const waiting = abortable(never, controller.signal);
    await expect(abortable(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
