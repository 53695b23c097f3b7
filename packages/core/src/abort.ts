/**
 * Settles like `promise`, or rejects with the signal's reason as soon as it
 * is aborted (the work behind `promise` is not stopped by this: callers use
 * it where that is safe, or stop the work themselves).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const cancel = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/** The callbacks waiting for each signal, behind one listener per signal. */
const WAITING = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `listener` once when `signal` aborts (never when it already has);
 * returns a function that cancels the call. However many callers wait, the
 * signal has one listener: an `EventTarget` walks its whole list of
 * listeners on every add and remove, so a thousand programs each adding
 * their own would cost time quadratic in the number running.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  let waiting = WAITING.get(signal);
  if (waiting === undefined) {
    const callbacks = new Set<() => void>();
    waiting = callbacks;
    WAITING.set(signal, callbacks);
    signal.addEventListener(
      'abort',
      () => {
        const called = [...callbacks];
        callbacks.clear();
        for (const callback of called) callback();
      },
      { once: true },
    );
  }
  // A distinct entry per call, so one listener given twice is called twice and cancelled apart.
  const entry = (): void => listener();
  waiting.add(entry);
  const set = waiting;
  return () => {
    set.delete(entry);
  };
}
