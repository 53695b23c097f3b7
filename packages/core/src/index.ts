/**
 * `@cloudboot/core`: plan model and loader, attribute/template engine, level
 * engine and service state machine, SQLite persistence, the driver contract
 * and registry, local and SSH execution, and the `CloudBoot` API.
 */

export { CloudBoot, isCloudbootError } from './api/cloud-boot.js';
export { CloudService } from './api/cloud-service.js';
export type { RunDescription, ServiceDescription } from './api/describe-run.js';
export { type InstanceStatus, isOrphan } from './api/instances.js';
export type { ReloadOptions } from './api/plan-reload.js';
export {
  declaredCredentialKeys,
  type PlanDriver,
  planDrivers,
  preflight,
} from './api/preflight.js';
export { listRuns, type RunSummary } from './api/run-list.js';
export { type CloudBootOptions, DEFAULT_DB_DIR } from './api/run-options.js';
export type { PollCallbacks } from './api/seed-polling.js';
export { DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
export * from './driver/driver.js';
export {
  type CallCount,
  DEFAULT_CALLS_PER_SECOND,
  MAX_RETRY_AFTER_MS,
  ManagedDriver,
  type ManagedDriverOptions,
} from './driver/managed-driver.js';
export {
  type AccountCalls,
  type AccountPolicy,
  BUILTIN_DRIVERS,
  checkDriverShape,
  credentialKeysOf,
  DriverRegistry,
  type DriverRegistryOptions,
  driverFactoryOf,
  type ModuleImporter,
  withPolicy,
} from './driver/registry.js';
export type { CloudView } from './engine/cloud-view.js';
export type { LevelOutcome, OperationResult } from './engine/engine.js';
export type * from './engine/events.js';
export type { ServiceOutcome } from './engine/operation-context.js';
export * from './errors.js';
export { LocalSession } from './exec/local-session.js';
export type * from './exec/machine.js';
// The SSH pool lives in `@cloudboot/core/ssh`: importing it loads ssh2, which a
// command on local services never needs.
export {
  type HostKeyStore,
  hostKeyFingerprint,
  MemoryHostKeyStore,
} from './exec/ssh-host-key.js';
export { COMMAND_LINE, type LoadOptions, loadGlobals, loadPlan } from './plan/loader.js';
export type { LevelPlan, Plan, PlanValue, PlanValues, ServicePlan } from './plan/model.js';
export { KNOWN_SERVICE_KEYS, PATH_KEYS, REDACTED, SECRET_KEYS } from './plan/model.js';
export { isCredentialKey, withCredentialKeys } from './plan/secrets.js';
// What a plan says before a boot (the CLI's -x and -y), decided as the boot decides it.
export { type PlannedDriver, plannedDriver } from './plan/service-driver.js';
export { parseBoolean } from './plan/values.js';
export {
  type InstanceRecord,
  listRunNames,
  RunStore,
  runDatabasePath,
  type ServiceFailure,
  type ServiceRecord,
  type TransitionRecord,
} from './state/run-store.js';
export { GUARDING_STATES, type ServiceState, STATE_MEANINGS } from './state/service-state.js';
export {
  type FieldRule,
  IllegalTransitionError,
  type RecordedField,
  TRANSITIONS,
  type TransitionRule,
} from './state/service-transitions.js';
export { fillBootconf, fillTemplate, renderBootenv } from './template/bootconf.js';
export { findReferences, type Reference, substituteReferences } from './template/references.js';
export { shellJoin, shellQuote, splitShellWords } from './template/shell-words.js';
