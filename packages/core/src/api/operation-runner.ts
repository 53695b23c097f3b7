/**
 * The composition root of one operation: builds the drivers, the machine
 * pool, the service logs, program files and the operation context over an
 * open run, runs the levels, commits what was recorded and closes what it
 * opened.
 */
import { type OperationResult, runOperation } from '../engine/engine.js';
import type { EventSink, OperationKind } from '../engine/events.js';
import { MachinePool } from '../engine/machines.js';
import { OperationContext } from '../engine/operation-context.js';
import { ProgramFiles } from '../engine/programs.js';
import { ServiceLogs } from '../engine/service-log.js';
import type { OpenRun } from './open-run.js';
import { preflight } from './preflight.js';
import { envOf, logDirOf, registryOf } from './run-options.js';

/** What an operation works on: every service, or only some. */
export interface OperationRequest {
  /** Shutdown: skip the terminate programs. */
  readonly dashNine?: boolean;
  /** Only these services (a `CloudService`'s own start or shutdown). */
  readonly only?: ReadonlySet<string>;
}

/**
 * Runs one operation on `run` to its end (the caller holds the run's lock).
 * Resolves with the result set, also when services failed; rejects only
 * when the operation could not run (e.g. a driver that cannot be loaded).
 */
export async function executeOperation(
  run: OpenRun,
  kind: OperationKind,
  request: OperationRequest,
  signal: AbortSignal,
  emit: EventSink,
): Promise<OperationResult> {
  const drivers = registryOf(run.options);
  if (kind === 'boot' || kind === 'repair') {
    run.adoptCredentialKeys(await preflight(run.plan, envOf(run.options), drivers));
  }
  const attrs = run.attributes();
  const store = run.store;
  const machines = new MachinePool({
    hostKeys: {
      get: (host, port) => store.hostKey(host, port),
      pin: (host, port, key) => store.pinHostKey(host, port, key),
    },
    ...run.options.ssh,
  });
  const logs = new ServiceLogs(logDirOf(run.options, run.name));
  const ctx = new OperationContext({
    operation: kind,
    store,
    attrs,
    drivers,
    machines,
    logs,
    files: new ProgramFiles(store),
    emit,
    signal,
  });
  try {
    return await runOperation(ctx, run.plan, {
      concurrency: run.options.concurrency ?? 128,
      ...(request.dashNine !== undefined && { dashNine: request.dashNine }),
      ...(request.only !== undefined && { only: request.only }),
    });
  } finally {
    // What the operation recorded is committed before it reports its end.
    store.commit();
    await machines.close();
    await logs.close();
  }
}
