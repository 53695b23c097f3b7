/**
 * Fan-out of operation events: typed listeners, a queue drained by `poll()`,
 * and async iterators.
 */
import type { CloudBootEvent, EventSink } from '../engine/events.js';

/** Delivers each event to listeners and iterators as it happens. */
export class EventHub {
  readonly #listeners = new Set<EventSink>();

  /** Subscribes; returns the unsubscribe function. */
  on(listener: EventSink): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers one event. A listener that throws does not stop the operation. */
  emit(event: CloudBootEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // Listener errors are the caller's; the boot goes on.
      }
    }
  }

  /**
   * Events from now until `done` settles, as an async iterator.
   */
  async *iterate(done: Promise<unknown>): AsyncGenerator<CloudBootEvent> {
    const buffered: CloudBootEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    const off = this.on((event) => {
      buffered.push(event);
      wake?.();
    });
    const finish = () => {
      finished = true;
      wake?.();
    };
    done.then(finish, finish);
    try {
      while (true) {
        const next = buffered.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (finished) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      off();
    }
  }
}
