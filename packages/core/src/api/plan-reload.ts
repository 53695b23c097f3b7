/**
 * Loading an edited plan into an existing run (the CLI's `reload`): services
 * new in the plan start `pending`, services that left it are forgotten, which
 * is refused while any of them is still up.
 */
import { storePlanInputs } from '../engine/programs.js';
import { UsageError } from '../errors.js';
import { loadPlan } from '../plan/loader.js';
import { withCredentialKeys } from '../plan/secrets.js';
import type { OpenRun } from './open-run.js';
import { globalsOptionsOf } from './run-options.js';

/** Options of {@link reloadPlan}. */
export interface ReloadOptions {
  /** `-G FILE` globals files for loading the new plan. */
  readonly globalsFiles?: readonly string[];
  /** More plan keys that hold credentials (those the new plan's driver modules declare). */
  readonly credentialKeys?: readonly string[];
}

/**
 * Replaces the plan of `run` with the one in `planFile`, under the run's lock.
 * @throws PlanError; UsageError when a removed service is still up;
 *   RunLockedError when an operation holds the run.
 */
export function reloadPlan(run: OpenRun, planFile: string, options: ReloadOptions): void {
  const plan = withCredentialKeys(
    loadPlan(planFile, globalsOptionsOf(run.options.globals, options.globalsFiles)),
    [
      ...(run.plan.credentialKeys ?? []),
      ...(run.options.credentialKeys ?? []),
      ...(options.credentialKeys ?? []),
    ],
  );
  const names = new Set(plan.levels.flatMap((l) => l.services.map((s) => s.name)));
  const removed = run.store.services().filter((r) => !names.has(r.name));
  const alive = removed.filter((r) => r.state !== 'terminated' && r.state !== 'pending');
  if (alive.length > 0) {
    throw new UsageError(
      `services ${alive.map((r) => r.name).join(', ')} are not in the new plan but are still up; terminate them first`,
    );
  }
  run.store.lock('reload');
  try {
    run.store.forgetServices(removed.map((r) => r.name));
    run.store.replacePlan(plan);
    storePlanInputs(run.store, plan);
  } finally {
    run.store.unlock();
  }
  run.adoptPlan(plan);
}
