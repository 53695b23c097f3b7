/**
 * Fan-out of operation events: typed listeners, a queue drained by `poll()`,
 * and async iterators.
 */
import type { CloudBootEvent, EventSink } from '../engine/events.js';
import type { EventLog } from './event-log.js';

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
   * The events of `log` from its start, then each new one as it is added,
   * until `done` settles: an iterator made after the operation began still
   * sees its first events.
   */
  async *iterate(log: EventLog, done: Promise<unknown>): AsyncGenerator<CloudBootEvent> {
    let wake: (() => void) | undefined;
    let finished = false;
    const off = this.on(() => wake?.());
    const finish = () => {
      finished = true;
      wake?.();
    };
    done.then(finish, finish);
    try {
      for (let next = 0; ; ) {
        const event = log.at(next);
        if (event !== undefined) {
          next += 1;
          yield event;
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
