/**
 * Reaping what a cloudboot that died left running. Every program is
 * recorded in the run database before it starts (with the tag it carries in
 * its environment) and forgotten when it ends; a record that another handle
 * left behind means a program that may still run. Before anything else
 * touches such a service, its leftovers are stopped (SIGTERM, then SIGKILL
 * after a grace period) and the service log says so.
 */
import { RemoteError } from '../errors.js';
import type { MachineTarget } from '../exec/machine.js';
import type { OperationContext } from './operation-context.js';
import { machineSettings } from './service-settings.js';

/** How long a leftover program gets to exit after SIGTERM. */
export const REAP_GRACE_MS = 3_000;
/** How long reaping waits for the machine. */
const REAP_CONNECT_MS = 60_000;

/**
 * Stops the programs of `name` that a dead cloudboot left running. A machine
 * that cannot be reached keeps its records (tried again next time); this
 * never fails the service.
 */
export async function reapLeftovers(ctx: OperationContext, name: string): Promise<void> {
  const leftovers = ctx.store.leftoverProcesses(name);
  if (leftovers.length === 0) return;
  const hostname = ctx.record(name).hostname;
  try {
    const settings = machineSettings(ctx.attrs, name);
    const target: MachineTarget =
      settings.target.kind === 'ssh'
        ? { ...settings.target, host: hostname ?? '' }
        : settings.target;
    const session = await ctx.machines.session(
      target,
      Math.min(settings.timeoutMs, REAP_CONNECT_MS),
      { signal: ctx.signal, existing: true },
    );
    const { terminated, killed } = await session.killTagged(
      leftovers.map((p) => p.token),
      REAP_GRACE_MS,
    );
    const programs = leftovers
      .map((p) => `${p.program}${p.pgid === null ? '' : ` (process group ${p.pgid})`}`)
      .join(', ');
    ctx.logs.note(
      name,
      terminated.length === 0
        ? `an earlier cloudboot ended while ${programs} ran on ${session.label}; none of it is running any more`
        : `an earlier cloudboot ended while ${programs} ran on ${session.label}: sent SIGTERM to process groups ${terminated.join(', ')}${killed.length > 0 ? `, SIGKILL to ${killed.join(', ')} after ${REAP_GRACE_MS / 1000} s` : ''}`,
    );
    ctx.store.endProcesses(leftovers.map((p) => p.id));
  } catch (error) {
    if (ctx.aborted) return;
    const why = error instanceof RemoteError ? error.message : String(error);
    ctx.logs.note(name, `could not stop what an earlier cloudboot left running: ${why}`);
  }
}
