/**
 * The state of one open run behind a `CloudBoot`: its database (which holds
 * the services' current records) and its plan. Creating a run stores the plan
 * (credentials redacted) before anything else happens; reopening one stores
 * the globals given now.
 */
import { Attributes } from '../engine/attributes.js';
import { storePlanInputs } from '../engine/programs.js';
import { UsageError } from '../errors.js';
import { loadGlobals, loadPlan } from '../plan/loader.js';
import type { Plan } from '../plan/model.js';
import { withCredentialKeys } from '../plan/secrets.js';
import { RunStore } from '../state/run-store.js';
import { effectiveGlobals } from './run-globals.js';
import { checkRunName, newRunName } from './run-name.js';
import { type CloudBootOptions, dbDirOf, envOf, globalsOptionsOf } from './run-options.js';

/** An open run: what every module of the API works on. */
export class OpenRun {
  /** The run's name. */
  readonly name: string;
  /** The options it was opened with. */
  readonly options: CloudBootOptions;
  /** Its database. */
  readonly store: RunStore;
  #plan: Plan;

  /**
   * Loads a new plan into a new run (with `planFile`; `loaded` is that
   * plan when the caller has just loaded it) or reopens `runName`.
   * @throws PlanError; RunNotFoundError / RunExistsError; UsageError
   */
  constructor(options: CloudBootOptions, loaded?: Plan) {
    this.options = options;
    const dbDir = dbDirOf(options);
    const globals = globalsOptionsOf(options.globals, options.globalsFiles);
    if (options.planFile !== undefined) {
      const plan = loaded ?? loadPlan(options.planFile, globals);
      this.name = checkRunName(options.runName ?? newRunName(plan.topFile));
      const redacted = withCredentialKeys(plan, options.credentialKeys ?? []);
      this.store = RunStore.create(dbDir, this.name, redacted);
      storePlanInputs(this.store, redacted);
      this.#plan = redacted;
    } else {
      if (options.runName === undefined) {
        throw new UsageError('give either a plan file (new run) or the name of an existing run');
      }
      this.name = checkRunName(options.runName);
      this.store = RunStore.open(dbDir, this.name);
      this.#plan = this.store.plan();
      this.adoptCredentialKeys(options.credentialKeys ?? []);
      if (options.globals !== undefined || options.globalsFiles !== undefined) {
        this.store.storeGlobals(loadGlobals(globals));
      }
    }
  }

  /** The plan stored with the run. */
  get plan(): Plan {
    return this.#plan;
  }

  /** Effective globals (see `CloudBoot.globals`). */
  globals(): Record<string, string> {
    return effectiveGlobals(this.#plan, this.store.storedGlobals(), envOf(this.options));
  }

  /** Attribute resolution over the current records. */
  attributes(): Attributes {
    return new Attributes({
      runName: this.name,
      plan: this.#plan,
      globals: this.globals(),
      env: envOf(this.options),
      facts: (service) => this.store.service(service),
    });
  }

  /**
   * Treats more keys as credentials from now on. A literal value of such a
   * key that is already stored is redacted, and the database file is
   * scrubbed of the old plan (the keys' owner was loaded only now).
   */
  adoptCredentialKeys(keys: readonly string[]): void {
    const plan = withCredentialKeys(this.#plan, keys);
    if (plan === this.#plan) return;
    this.store.replacePlanScrubbed(plan);
    this.#plan = plan;
  }

  /** Takes `plan` as the run's plan once the store holds it. */
  adoptPlan(plan: Plan): void {
    this.#plan = plan;
  }
}
