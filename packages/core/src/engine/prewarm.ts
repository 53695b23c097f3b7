/**
 * Connects machines before their services ask: at the start of each level,
 * every SSH machine of that level and of later levels whose address is
 * already known (an existing host the plan names by a literal hostname, or a
 * machine recorded earlier in the run) is connected, its host key checked
 * and its session opened. The level's own machines connect at once, while
 * their services still record their launch; a boot's later levels connect
 * in the background while the current level runs. A shutdown, whose levels
 * run in reverse and are short, connects to all of them at once, and only
 * to machines it will clean up (those that had been reached). The SSH pool
 * bounds the handshakes; a failure is kept quiet here and met again, with
 * its error, when the machine's own level asks for the session.
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
 * Starts connecting the known machines of the `current` level's services and
 * of `later` ones (see the module comment); never throws or waits. Services
 * in `done` (those connected ahead earlier in the operation) are skipped;
 * those connected now are added.
 */
export function prewarmMachines(
  ctx: OperationContext,
  current: readonly string[],
  later: readonly string[],
  done: Set<string>,
): void {
  if (ctx.aborted) return;
  const laterWhen = ctx.operation === 'shutdown' ? 'now' : 'later';
  for (const [names, when] of [
    [current, 'now'],
    [later, laterWhen],
  ] as const) {
    for (const name of names) {
      if (done.has(name)) continue;
      const known = knownMachine(ctx, name);
      if (known === undefined) continue;
      done.add(name);
      ctx.machines.prewarm(known.target, known.timeoutMs, {
        signal: ctx.signal,
        existing: known.existing,
        when,
      });
    }
  }
}
