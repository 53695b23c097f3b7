/**
 * The globals of a run: those loaded with its plan, overridden by those
 * given to later commands on the run (stored, latest wins), with `env.NAME`
 * values resolved at each use and never stored resolved.
 */
import { resolveEnv } from '../engine/attributes.js';
import type { Plan } from '../plan/model.js';

/**
 * Effective globals: the plan's (`[globals]` < `-G` < `-g`) < `stored`;
 * a global whose `env.NAME` is unset is left out.
 */
export function effectiveGlobals(
  plan: Plan,
  stored: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const raw = {
    ...Object.fromEntries(Object.entries(plan.globals).map(([name, v]) => [name, v.value])),
    ...stored,
  };
  const globals: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const resolved = resolveEnv(value, env);
    if (resolved !== undefined) globals[name] = resolved;
  }
  return globals;
}
