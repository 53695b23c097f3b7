/**
 * The JSON description of a run written by `-o FILE`: every service with its
 * state, machine and attributes. Values of secret keys are redacted.
 */
import type { Attributes } from '../engine/attributes.js';
import type { CloudView } from '../engine/cloud-view.js';
import { type Plan, REDACTED } from '../plan/model.js';
import type { ServiceRecord } from '../state/run-store.js';
import type { ServiceState } from '../state/service-state.js';

/** One service in a {@link RunDescription}. */
export interface ServiceDescription {
  readonly name: string;
  readonly level: number;
  readonly state: ServiceState;
  readonly hostname: string | null;
  readonly instanceId: string | null;
  readonly failure: { readonly phase: string; readonly message: string } | null;
  /**
   * What the cloud says about the recorded instance now (launched machines
   * only; null otherwise): its state, or why it could not be asked.
   */
  readonly cloud: CloudView | null;
  readonly attributes: Readonly<Record<string, string>>;
}

/** The whole run. */
export interface RunDescription {
  readonly run: string;
  readonly plan: string;
  readonly levels: ReadonlyArray<{
    readonly level: number;
    readonly services: readonly ServiceDescription[];
  }>;
}

function safeBag(attrs: Attributes, name: string): Record<string, string> {
  let bag: Record<string, string>;
  try {
    bag = attrs.bag(name);
  } catch {
    // A service whose references cannot resolve yet (earlier level not booted).
    bag = {};
  }
  for (const key of Object.keys(bag)) if (attrs.isCredential(key)) bag[key] = REDACTED;
  return bag;
}

function redactedView(
  attrs: Attributes,
  name: string,
  view: CloudView | undefined,
): CloudView | null {
  if (view === undefined) return null;
  return view.error === undefined ? view : { ...view, error: attrs.redact(name, view.error) };
}

/** Builds the description of a run. */
export function describeRun(
  run: string,
  plan: Plan,
  attrs: Attributes,
  record: (name: string) => ServiceRecord,
  cloud: ReadonlyMap<string, CloudView> = new Map(),
): RunDescription {
  return {
    run,
    plan: plan.topFile,
    levels: plan.levels.map((level) => ({
      level: level.level,
      services: level.services.map((s) => {
        const r = record(s.name);
        return {
          name: s.name,
          level: level.level,
          state: r.state,
          hostname: r.hostname,
          instanceId: r.instanceId,
          failure: r.failure && { phase: r.failure.phase, message: r.failure.message },
          cloud: redactedView(attrs, s.name, cloud.get(s.name)),
          attributes: safeBag(attrs, s.name),
        };
      }),
    })),
  };
}
