/** `cloudboot list`: the runs in the database directory with their services by state. */
import { listRunNames, RunStore, type ServiceState } from '@cloudboot/core';
import { EXIT } from '../exit-codes.js';
import { formatTable, formatTime } from '../table.js';
import { type Command, noArgs } from './command.js';

interface RunRow {
  readonly name: string;
  readonly created: number | null;
  readonly plan: string;
  readonly states: Partial<Record<ServiceState, number>>;
  readonly services: number;
  readonly error?: string;
}

function readRun(dbDir: string, name: string): RunRow {
  let store: RunStore | undefined;
  try {
    store = RunStore.open(dbDir, name);
    const services = store.services();
    const states: Partial<Record<ServiceState, number>> = {};
    for (const s of services) states[s.state] = (states[s.state] ?? 0) + 1;
    return {
      name,
      created: store.createdAt(),
      plan: store.plan().topFile,
      states,
      services: services.length,
    };
  } catch (error) {
    return {
      name,
      created: null,
      plan: '-',
      states: {},
      services: 0,
      error: (error as Error).message,
    };
  } finally {
    store?.close();
  }
}

/** The `list` command. */
export const listCommand: Command = {
  name: 'list',
  usage: 'list',
  summary: 'list the runs in the database directory with their services by state',
  options: [],
  async run(ctx) {
    noArgs(ctx, this.name);
    const { out, options } = ctx;
    const runs = listRunNames(options.dbDir).map((name) => readRun(options.dbDir, name));
    for (const run of runs) out.jsonLine({ type: 'run', ...run });
    if (runs.length === 0) {
      out.final(`no runs in ${options.dbDir}`);
      return { exitCode: EXIT.ok, details: { dbDir: options.dbDir, runs: 0 } };
    }
    const rows = runs.map((r) => [
      r.name,
      formatTime(r.created),
      String(r.services),
      r.error !== undefined
        ? `unreadable: ${r.error}`
        : Object.entries(r.states)
            .map(([state, n]) => `${state} ${n}`)
            .join(', '),
      r.plan,
    ]);
    const lines = formatTable([['RUN', 'CREATED', 'SERVICES', 'STATES', 'PLAN'], ...rows]);
    for (const line of lines) out.final(line);
    return { exitCode: EXIT.ok, details: { dbDir: options.dbDir, runs: runs.length } };
  },
};
