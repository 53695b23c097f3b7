/** `cloudboot history NAME [--kill]`: every instance ever launched for a run. */
import type { InstanceStatus } from '@cloudboot/core';
import { EXIT } from '../exit-codes.js';
import type { Output } from '../io.js';
import { formatTable, formatTime } from '../table.js';
import { type Command, runNameArg } from './command.js';
import { openRun } from './run-session.js';

const HEADER = [
  'TOKEN',
  'SERVICE',
  'DRIVER',
  'INSTANCE',
  'LAUNCHED',
  'TERMINATED',
  'CURRENT',
  'CLOUD STATE',
];

/** Prints instance rows as a table (and as JSON lines with --json). */
export function printInstances(
  out: Output,
  run: string,
  instances: readonly InstanceStatus[],
): void {
  for (const instance of instances) out.jsonLine({ type: 'instance', run, ...instance });
  const ids = new Map(instances.map((i) => [i.token, i.instanceId ?? i.token]));
  const rows = instances.map((i) => [
    i.token,
    i.service,
    i.driver,
    i.instanceId ?? '(launch unanswered)',
    formatTime(i.launchedAt),
    formatTime(i.terminatedAt),
    i.current
      ? 'yes'
      : i.replacedBy !== null
        ? `replaced by ${ids.get(i.replacedBy) ?? i.replacedBy}`
        : '-',
    i.cloud !== undefined ? `${i.cloud.state} (${i.cloud.nativeState})` : (i.note ?? '-'),
  ]);
  if (instances.length > 0) for (const line of formatTable([HEADER, ...rows])) out.final(line);
}

/**
 * The `history` command: every instance with what its cloud says now. An
 * instance is "current" when it is the machine of a service that is not
 * terminated. `--kill` terminates every instance of the run still alive in
 * its cloud (existing machines are never killed).
 */
export const historyCommand: Command = {
  name: 'history',
  usage: 'history NAME [--kill]',
  summary:
    'list every instance ever launched for the run with its cloud state; --kill terminates the live ones',
  options: ['name', 'kill'],
  async run(ctx) {
    const { out, options } = ctx;
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    try {
      const killed = options.kill ? await boot.killInstances({ all: true }) : [];
      const instances = await boot.history();
      out.info(
        `run ${boot.name}: ${instances.length} instance${instances.length === 1 ? '' : 's'}, ` +
          `${instances.filter((i) => i.current).length} current` +
          (options.kill ? `, ${killed.length} terminated now` : ''),
      );
      printInstances(out, boot.name, instances);
      return {
        exitCode: EXIT.ok,
        details: {
          run: boot.name,
          instances: instances.length,
          killed: killed.map((k) => k.instanceId),
        },
      };
    } finally {
      boot.close();
    }
  },
};
