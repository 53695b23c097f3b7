/** `cloudboot list`: the runs in the database directory with their services by state. */
import { listRuns } from '@cloudboot/core';
import { EXIT } from '../exit-codes.js';
import { formatTable, formatTime } from '../table.js';
import { type Command, noArgs } from './command.js';

/** The `list` command. */
export const listCommand: Command = {
  name: 'list',
  usage: 'list',
  summary: 'list the runs in the database directory with their services by state',
  options: [],
  async run(ctx) {
    noArgs(ctx, this.name);
    const { out, options } = ctx;
    const runs = listRuns(options.dbDir);
    for (const run of runs) {
      out.jsonLine({
        type: 'run',
        name: run.name,
        created: run.createdAt,
        plan: run.planFile ?? '-',
        states: run.states,
        services: run.services,
        ...(run.error !== undefined && { error: run.error }),
      });
    }
    if (runs.length === 0) {
      out.final(`no runs in ${options.dbDir}`);
      return { exitCode: EXIT.ok, details: { dbDir: options.dbDir, runs: 0 } };
    }
    const rows = runs.map((r) => [
      r.name,
      formatTime(r.createdAt),
      String(r.services),
      r.error !== undefined
        ? `unreadable: ${r.error}`
        : Object.entries(r.states)
            .map(([state, n]) => `${state} ${n}`)
            .join(', '),
      r.planFile ?? '-',
    ]);
    const lines = formatTable([['RUN', 'CREATED', 'SERVICES', 'STATES', 'PLAN'], ...rows]);
    for (const line of lines) out.final(line);
    return { exitCode: EXIT.ok, details: { dbDir: options.dbDir, runs: runs.length } };
  },
};
