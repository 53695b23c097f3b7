/**
 * Walks the levels of a run for one operation: boot (levels in order, the
 * next only after every service of the previous is ready), status, repair,
 * and shutdown (reverse order). Returns a result set instead of throwing
 * halfway: each level and service has a status.
 */
import { type AccountCalls, throttledBetween } from '../driver/registry.js';
import type { ServiceFailedError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { bootService } from './boot-service.js';
import { askClouds, downMessage, isDown } from './cloud-view.js';
import type { OperationKind } from './events.js';
import { mapLimit } from './limit.js';
import type { OperationContext, ServiceOutcome } from './operation-context.js';
import { connectAhead, LevelBusy } from './prewarm.js';
import { retireInstance } from './replace-service.js';
import { guardService } from './service-run.js';
import { shutdownService } from './shutdown-service.js';

/** How one level fared. */
export interface LevelOutcome {
  readonly level: number;
  readonly status: 'success' | 'error' | 'not-executed' | 'interrupted';
  readonly services: readonly ServiceOutcome[];
}

/** The result of an operation over the whole plan. */
export interface OperationResult {
  readonly operation: OperationKind;
  /** True when no service failed and the operation was not interrupted. */
  readonly ok: boolean;
  /** True when the operation was aborted (`CloudBoot.abort()`); the run can be resumed. */
  readonly interrupted: boolean;
  /** Levels in the order they were walked. */
  readonly levels: readonly LevelOutcome[];
  /** Every service failure, in level order. */
  readonly failures: readonly ServiceFailedError[];
  readonly durationMs: number;
  /** SSH handshakes this operation made (one per machine is the goal). */
  readonly sshHandshakes: number;
  /** SSH channels this operation opened (exec, shell, SFTP). */
  readonly sshChannels: number;
  /** SSH requests of this operation that waited for the machine's answer. */
  readonly sshRoundTrips: number;
  /**
   * Driver accounts whose cloud throttled calls of this operation, with the
   * calls of this operation; cloudboot slowed down and retried them.
   */
  readonly throttledAccounts: readonly AccountCalls[];
}

/** Options of {@link runOperation}. */
export interface RunOperationOptions {
  /** Services started at once within a level. */
  readonly concurrency: number;
  /** Shutdown only: skip terminate programs. */
  readonly dashNine?: boolean;
  /** Only these services (CloudService.start/shutdown); others are not touched. */
  readonly only?: ReadonlySet<string>;
}

function perService(ctx: OperationContext, options: RunOperationOptions) {
  const dashNine = options.dashNine !== undefined ? { dashNine: options.dashNine } : {};
  switch (ctx.operation) {
    case 'boot':
      return (name: string) =>
        guardService(ctx, name, (run) => bootService(run, { restart: options.only !== undefined }));
    case 'repair':
      return (name: string) =>
        guardService(ctx, name, async (run) => {
          // A terminated service is booted by reboot or resume, not repaired.
          if (run.record.state === 'terminated') return run.notExecuted();
          const view = ctx.cloud.get(name);
          if (view !== undefined && isDown(view)) {
            // Reported like a failed check, then replaced.
            run.starting();
            run.fail({ phase: 'address', message: downMessage(ctx.store.runName, view) });
            run.starting();
            const retired = await retireInstance(run, view);
            if ('outcome' in retired) return retired.outcome;
            return bootService(run, {
              restart: true,
              ...(retired.replaces !== undefined && { replaces: retired.replaces }),
            });
          }
          const checked = await bootService(run, { checkOnly: true });
          return checked.status === 'success' ? checked : bootService(run, { restart: true });
        });
    case 'status':
      return (name: string) =>
        guardService(ctx, name, async (run) => {
          const view = ctx.cloud.get(name);
          if (view !== undefined && isDown(view)) {
            // Its ready program is not run: the machine it would run on is gone.
            run.starting();
            return run.fail({ phase: 'address', message: downMessage(ctx.store.runName, view) });
          }
          return bootService(run, { checkOnly: true });
        });
    case 'shutdown':
      return (name: string) => guardService(ctx, name, (run) => shutdownService(run, dashNine));
  }
}

/**
 * Status and repair first ask every driver account once about all launched
 * services in scope, and report each cloud view next to the recorded state.
 */
async function askCloudsFirst(
  ctx: OperationContext,
  plan: Plan,
  options: RunOperationOptions,
): Promise<void> {
  const names = plan.levels
    .flatMap((l) => l.services.map((s) => s.name))
    .filter((n) => options.only?.has(n) ?? true);
  const records = names.map((n) => ctx.record(n));
  ctx.cloud = await askClouds(records, ctx.attrs, ctx.drivers, ctx.signal);
  for (const record of records) {
    const view = ctx.cloud.get(record.name);
    if (view === undefined) continue;
    ctx.emit({
      type: 'cloud',
      operation: ctx.operation,
      service: record.name,
      level: record.level,
      instanceId: view.instanceId,
      recorded: record.state,
      ...(view.state !== undefined && { state: view.state }),
      ...(view.nativeState !== undefined && { nativeState: view.nativeState }),
      ...(view.error !== undefined && { error: ctx.attrs.redact(record.name, view.error) }),
      at: Date.now(),
    });
  }
}

/** Runs one operation over the levels of `plan`. */
export async function runOperation(
  ctx: OperationContext,
  plan: Plan,
  options: RunOperationOptions,
): Promise<OperationResult> {
  const started = performance.now();
  const callsBefore = await ctx.drivers.callCounts();
  // Another handle of the run may have moved services since this one read
  // them (it waited for the run's lock): start from what the database says.
  ctx.store.reloadServices();
  const levels = ctx.operation === 'shutdown' ? [...plan.levels].reverse() : plan.levels;
  // Status looks at every level; boot and repair stop at the first level that fails.
  const stopOnFailure = ctx.operation === 'boot' || ctx.operation === 'repair';
  const run = perService(ctx, options);
  if (ctx.operation === 'status' || ctx.operation === 'repair')
    await askCloudsFirst(ctx, plan, options);
  const outcomes: LevelOutcome[] = [];
  let stopped = false;
  /** Services whose machines were connected ahead (once is enough). */
  const prewarmed = new Set<string>();

  const inScope = (n: string) => options.only?.has(n) ?? true;
  for (const [index, level] of levels.entries()) {
    const names = level.services.map((s) => s.name).filter(inScope);
    if (names.length === 0) continue;
    if (stopped || ctx.aborted) {
      outcomes.push({
        level: level.level,
        status: 'not-executed',
        services: names.map((service) => ({
          service,
          level: level.level,
          status: 'not-executed' as const,
        })),
      });
      continue;
    }
    const later = levels
      .slice(index + 1)
      .flatMap((l) => l.services.map((s) => s.name))
      .filter(inScope);
    // A dash-nine shutdown connects to no machine.
    const busy =
      ctx.operation === 'shutdown' && options.dashNine
        ? new LevelBusy(names)
        : connectAhead(ctx, names, later, prewarmed);
    ctx.level = busy;
    const levelStarted = performance.now();
    ctx.emit({
      type: 'level',
      action: 'starting',
      operation: ctx.operation,
      level: level.level,
      services: names,
      at: Date.now(),
    });
    const services = await mapLimit(names, options.concurrency, async (name) => {
      try {
        return await run(name);
      } finally {
        busy.settled(name);
      }
    });
    const failed = services.some((s) => s.status === 'error');
    const interrupted = services.some((s) => s.status === 'interrupted');
    ctx.emit({
      type: 'level',
      action: failed || interrupted ? 'error' : 'complete',
      operation: ctx.operation,
      level: level.level,
      services: names,
      at: Date.now(),
      elapsedMs: performance.now() - levelStarted,
    });
    outcomes.push({
      level: level.level,
      status: failed ? 'error' : interrupted ? 'interrupted' : 'success',
      services,
    });
    if (failed && stopOnFailure) stopped = true;
  }

  const failures = outcomes.flatMap((l) => l.services.flatMap((s) => (s.error ? [s.error] : [])));
  return {
    operation: ctx.operation,
    ok: failures.length === 0 && !ctx.aborted,
    interrupted: ctx.aborted,
    levels: outcomes,
    failures,
    durationMs: performance.now() - started,
    sshHandshakes: ctx.machines.handshakes,
    sshChannels: ctx.machines.channels,
    sshRoundTrips: ctx.machines.roundTrips,
    throttledAccounts: throttledBetween(callsBefore, await ctx.drivers.callCounts()),
  };
}
