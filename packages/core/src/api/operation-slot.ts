/**
 * The one operation a run's `CloudBoot` runs at a time: it takes the run's
 * lock, records the operation's events for pollers and iterators, and keeps
 * the outcome once it has settled.
 */
import { setMaxListeners } from 'node:events';
import type { OperationResult } from '../engine/engine.js';
import type { OperationKind } from '../engine/events.js';
import { InterruptedError, UsageError } from '../errors.js';
import { EventLog } from './event-log.js';
import type { EventHub } from './event-queue.js';
import type { OpenRun } from './open-run.js';
import { executeOperation, type OperationRequest } from './operation-runner.js';

/** An operation that was begun: running, or settled with its result or error. */
export interface ActiveOperation {
  /** What it does. */
  readonly kind: OperationKind;
  /** Aborts it (`CloudBoot.abort`). */
  readonly controller: AbortController;
  /** Settles when it has ended and the run's lock is released. */
  readonly done: Promise<OperationResult>;
  /** Every event of the operation so far, in order (pollers and iterators keep their own place). */
  readonly log: EventLog;
  /** Its result, once it resolved. */
  result?: OperationResult;
  /** Why it could not run, once it rejected. */
  error?: unknown;
}

/** Holds the current (or last) operation of an open run. */
export class OperationSlot {
  readonly #run: OpenRun;
  readonly #hub: EventHub;
  #current: ActiveOperation | undefined;

  /** A slot over `run` whose operations emit through `hub`. */
  constructor(run: OpenRun, hub: EventHub) {
    this.#run = run;
    this.#hub = hub;
  }

  /** The current operation, or the last one; `undefined` before the first. */
  get current(): ActiveOperation | undefined {
    return this.#current;
  }

  /** True while an operation has not settled. */
  get busy(): boolean {
    const op = this.#current;
    return op !== undefined && op.result === undefined && op.error === undefined;
  }

  /** The current operation. @throws UsageError (naming `what`) before the first. */
  require(what: string): ActiveOperation {
    if (this.#current === undefined) {
      throw new UsageError(`${what} was called before start() or shutdown()`);
    }
    return this.#current;
  }

  /**
   * Takes the run's lock and begins an operation; the lock is released when
   * it settles.
   * @throws UsageError when one is running; RunLockedError when another process holds the run.
   */
  begin(kind: OperationKind, request: OperationRequest): ActiveOperation {
    if (this.busy) {
      throw new UsageError(
        `an operation (${this.#current?.kind}) is already running on run ${this.#run.name}`,
      );
    }
    const store = this.#run.store;
    store.lock(kind);
    const log = new EventLog();
    const unsubscribe = this.#hub.on((event) => log.push(event));
    const controller = new AbortController();
    // Every running program and connection attempt listens for the abort.
    setMaxListeners(0, controller.signal);
    const done = executeOperation(this.#run, kind, request, controller.signal, (event) =>
      this.#hub.emit(event),
    ).finally(() => {
      unsubscribe();
      store.unlock();
    });
    const op: ActiveOperation = { kind, controller, done, log };
    done.then(
      (result) => {
        op.result = result;
      },
      (error: unknown) => {
        op.error = error;
      },
    );
    this.#current = op;
    return op;
  }

  /**
   * {@link begin}, as a promise of the operation's result: an operation that
   * cannot begin rejects it rather than throwing.
   */
  operate(kind: OperationKind, request: OperationRequest): Promise<OperationResult> {
    try {
      return this.begin(kind, request).done;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Aborts the running operation (its result says `interrupted`); nothing when idle. */
  abort(): void {
    this.#current?.controller.abort(new InterruptedError('the operation was interrupted'));
  }
}
