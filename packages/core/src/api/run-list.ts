/**
 * The runs of a database directory, each summed up from its database, read
 * without taking any run's lock (the CLI's `list`).
 */
import { listRunNames, RunStore } from '../state/run-store.js';
import type { ServiceState } from '../state/service-state.js';

/** One run of a database directory. */
export interface RunSummary {
  /** The run's name. */
  readonly name: string;
  /** When it was created (ms since epoch); `null` when its database could not be read. */
  readonly createdAt: number | null;
  /** The top file of its plan; `null` when its database could not be read. */
  readonly planFile: string | null;
  /** How many services it has. */
  readonly services: number;
  /** How many services are in each state (states no service is in are absent). */
  readonly states: Partial<Record<ServiceState, number>>;
  /** Why its database could not be read (the run is listed anyway). */
  readonly error?: string;
}

function summarize(dbDir: string, name: string): RunSummary {
  let store: RunStore | undefined;
  try {
    store = RunStore.open(dbDir, name);
    const services = store.services();
    const states: Partial<Record<ServiceState, number>> = {};
    for (const s of services) states[s.state] = (states[s.state] ?? 0) + 1;
    return {
      name,
      createdAt: store.createdAt(),
      planFile: store.plan().topFile,
      services: services.length,
      states,
    };
  } catch (error) {
    return {
      name,
      createdAt: null,
      planFile: null,
      services: 0,
      states: {},
      error: (error as Error).message,
    };
  } finally {
    store?.close();
  }
}

/**
 * Every run stored in `dbDir`, by name; a run whose database cannot be read
 * is listed with `error`.
 * @throws RunDatabaseError when `dbDir` exists but is not a directory.
 */
export function listRuns(dbDir: string): RunSummary[] {
  return listRunNames(dbDir).map((name) => summarize(dbDir, name));
}
