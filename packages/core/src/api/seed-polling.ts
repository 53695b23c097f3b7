/**
 * The start/poll style of cloudinit.d's API over an operation's event log:
 * each poller delivers the events since its last call and then says whether
 * the operation is over, throwing when it ended badly.
 */
import type { CloudBootEvent, LevelEvent, ServiceEvent } from '../engine/events.js';
import { BootFailedError, InterruptedError } from '../errors.js';
import type { EventLog } from './event-log.js';
import type { ActiveOperation } from './operation-slot.js';

/** Callbacks of `poll()` / `blockUntilComplete()`, as in the seed API. */
export interface PollCallbacks {
  /** Called when a level starts, completes or fails. */
  readonly onLevel?: (event: LevelEvent) => void;
  /** Called when a service starts, changes state, completes or fails. */
  readonly onService?: (event: ServiceEvent) => void;
}

/** A place in an operation's event log; a new operation is read from its start. */
export class LogCursor {
  #log: EventLog | undefined;
  #next = 0;

  /** The events of `op` not yet read through this cursor. */
  read(op: ActiveOperation): readonly CloudBootEvent[] {
    if (this.#log !== op.log) {
      this.#log = op.log;
      this.#next = 0;
    }
    const events = op.log.slice(this.#next);
    this.#next = op.log.length;
    return events;
  }
}

/**
 * One poll of a whole run: delivers new events, then false while `op` runs,
 * true when it completed successfully.
 * @throws the error that stopped it; BootFailedError when a service failed;
 *   InterruptedError when it was interrupted.
 */
export function pollRun(
  op: ActiveOperation,
  cursor: LogCursor,
  callbacks: PollCallbacks,
  runName: string,
): boolean {
  for (const event of cursor.read(op)) {
    if (event.type === 'level') callbacks.onLevel?.(event);
    else if (event.type === 'service') callbacks.onService?.(event);
  }
  if (op.error !== undefined) throw op.error;
  if (op.result === undefined) return false;
  if (op.result.failures.length > 0) throw new BootFailedError(op.result.failures);
  if (op.result.interrupted)
    throw new InterruptedError(`the ${op.kind} of run ${runName} was interrupted`);
  return true;
}

/**
 * One poll of one service: delivers its new events, then false while `op`
 * runs, true when it is over.
 * @throws the error that stopped it; the service's ServiceFailedError when it failed.
 */
export function pollService(
  op: ActiveOperation,
  cursor: LogCursor,
  service: string,
  callbacks: Pick<PollCallbacks, 'onService'>,
): boolean {
  for (const event of cursor.read(op)) {
    if (event.type === 'service' && event.service === service) callbacks.onService?.(event);
  }
  if (op.error !== undefined) throw op.error;
  if (op.result === undefined) return false;
  const failure = op.result.failures.find((f) => f.service === service);
  if (failure !== undefined) throw failure;
  return true;
}

/**
 * Calls `poll` until it returns true, waking when `op` settles or every
 * `pollPeriodMs` (which caps how late callbacks run).
 */
export async function pollUntilComplete(
  op: ActiveOperation,
  poll: () => boolean,
  pollPeriodMs: number,
): Promise<void> {
  while (!poll()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      op.done.catch(() => undefined),
      new Promise((r) => {
        timer = setTimeout(r, pollPeriodMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
