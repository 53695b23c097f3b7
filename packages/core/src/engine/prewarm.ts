/**
 * Connects machines before their services ask. Every SSH machine whose
 * address is already known (an existing host the plan names by a literal
 * hostname, or a machine recorded earlier in the run) is connected, its host
 * key checked and its session opened, at the start of its level, while its
 * services still record their launch. A boot's later levels connect in the
 * background once the current level is busy: each of its services has
 * started a program or ended. Until then the level's own handshakes and
 * preparation need the controller's CPU, which later handshakes would take;
 * after, its programs run and the later levels' machines are ready when
 * their level starts. A shutdown, whose levels run in reverse and are short,
 * connects to all of them at once, and only to machines it will clean up
 * (those that had been reached). The SSH pool bounds the handshakes; a
 * failure is kept quiet here and met again, with its error, when the
 * machine's own level asks for the session.
 */
import type { SshTarget } from '../exec/machine.js';
import { EXISTING_MACHINE_DRIVER, launchesMachines } from '../plan/service-driver.js';
import type { OperationContext } from './operation-context.js';
import { driverChoice, machineSettings } from './service-settings.js';
import { wasReached } from './shutdown-service.js';

/** What connecting a service's machine ahead of time needs, or undefined when its address is not known yet. */
function knownMachine(
  ctx: OperationContext,
  name: string,
): { target: SshTarget; timeoutMs: number; existing: boolean } | undefined {
  const record = ctx.record(name);
  if (record.state === 'terminated' || record.state === 'failed') return undefined;
  if (ctx.operation === 'shutdown' && !wasReached(record)) return undefined;
  try {
    const machine = machineSettings(ctx.attrs, name);
    if (machine.target.kind !== 'ssh') return undefined;
    if (record.hostname !== null) {
      const existing = record.driver === EXISTING_MACHINE_DRIVER;
      return {
        target: { ...machine.target, host: record.hostname },
        timeoutMs: machine.timeoutMs,
        existing,
      };
    }
    const choice = driverChoice(ctx.attrs, name);
    const host = choice.hostname;
    if (launchesMachines(choice) || host === undefined) return undefined;
    return { target: { ...machine.target, host }, timeoutMs: machine.timeoutMs, existing: true };
  } catch {
    // A value that does not resolve yet (it depends on the current level): connected when its level runs.
    return undefined;
  }
}

/**
 * Starts connecting the known machines of services `names`: `now`, or in
 * the `background` (their handshakes wait while those of machines needed now
 * are under way); never throws or waits. Services in `done` (those connected
 * ahead earlier in the operation) are skipped; those connected now are added.
 */
function prewarmMachines(
  ctx: OperationContext,
  names: readonly string[],
  when: 'now' | 'background',
  done: Set<string>,
): void {
  if (ctx.aborted) return;
  for (const name of names) {
    if (done.has(name)) continue;
    const known = knownMachine(ctx, name);
    if (known === undefined) continue;
    done.add(name);
    ctx.machines.prewarm(known.target, known.timeoutMs, {
      signal: ctx.signal,
      existing: known.existing,
      background: when === 'background',
    });
  }
}

/**
 * Connects ahead for the level of services `names`, whose later levels hold
 * services `later` (see the module comment), and returns the level's
 * {@link LevelBusy}. Services in `done` were connected ahead earlier in the
 * operation.
 */
export function connectAhead(
  ctx: OperationContext,
  names: readonly string[],
  later: readonly string[],
  done: Set<string>,
): LevelBusy {
  prewarmMachines(ctx, names, 'now', done);
  if (ctx.operation === 'shutdown') {
    prewarmMachines(ctx, later, 'now', done);
    return new LevelBusy(names);
  }
  return new LevelBusy(names, () => prewarmMachines(ctx, later, 'background', done));
}

/**
 * Tells when a level is busy: each of its services has started a program or
 * ended (see the module comment). {@link OperationContext.level} holds the
 * one of the level under way.
 */
export class LevelBusy {
  readonly #waiting: Set<string>;
  #then: (() => void) | undefined;

  /** Runs `then` once every service of `names` has been {@link settled}. */
  constructor(names: readonly string[], then?: () => void) {
    this.#waiting = new Set(names);
    this.#then = then;
    if (this.#waiting.size === 0) this.#fire();
  }

  /** Service `name` started a program, or ended. */
  settled(name: string): void {
    if (this.#waiting.delete(name) && this.#waiting.size === 0) this.#fire();
  }

  #fire(): void {
    const then = this.#then;
    this.#then = undefined;
    then?.();
  }
}
