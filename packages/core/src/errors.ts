/**
 * Typed errors shared by every cloudboot module. Each carries a stable `code`
 * so the CLI can map it to an exit status in one place, and the context a user
 * needs (file, service, phase, driver) without a stack trace.
 */

/** Base class of every error cloudboot raises on purpose. */
export class CloudbootError extends Error {
  /** Stable, machine-readable identifier of the error class. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Where in a plan file a problem or a value comes from. */
export interface SourceLocation {
  /** Absolute path of the file. */
  readonly file: string;
  /** 1-based line number, when known. */
  readonly line?: number;
  /** Section name without brackets, e.g. `svc-web`. */
  readonly section?: string;
  /** Key inside the section, lower-cased. */
  readonly key?: string;
}

/** One thing wrong with a plan: where, and what was expected. */
export interface PlanProblem extends SourceLocation {
  /** One sentence saying what is wrong and what was expected. */
  readonly message: string;
}

/** Renders a problem as `file:line: [section] key: message`. */
export function formatProblem(p: PlanProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}` : p.file;
  const section = p.section !== undefined ? ` [${p.section}]` : '';
  const key = p.key !== undefined ? ` ${p.key}:` : '';
  return `${where}:${section}${key} ${p.message}`;
}

/**
 * A plan (or a value given with it) is invalid. Raised before anything starts;
 * lists every problem found, not just the first.
 */
export class PlanError extends CloudbootError {
  readonly problems: readonly PlanProblem[];

  constructor(problems: readonly PlanProblem[]) {
    const head =
      problems.length === 1
        ? 'The plan has a problem:'
        : `The plan has ${problems.length} problems:`;
    super('PLAN_INVALID', [head, ...problems.map((p) => `  ${formatProblem(p)}`)].join('\n'));
    this.problems = problems;
  }
}

/** A `${...}` reference or a template key could not be resolved at run time. */
export class TemplateError extends CloudbootError {
  constructor(message: string) {
    super('TEMPLATE', message);
  }
}

/** The named run does not exist in the database directory. */
export class RunNotFoundError extends CloudbootError {
  constructor(
    readonly runName: string,
    readonly dbDir: string,
  ) {
    super('RUN_NOT_FOUND', `No run named "${runName}" in ${dbDir}.`);
  }
}

/** A run with this name already exists (when creating a new one). */
export class RunExistsError extends CloudbootError {
  constructor(
    readonly runName: string,
    readonly dbDir: string,
  ) {
    super(
      'RUN_EXISTS',
      `A run named "${runName}" already exists in ${dbDir}; pick another name or use "reload".`,
    );
  }
}

/**
 * The directory of run databases, or one run's database file, cannot be
 * used: the directory is a file, or the database is corrupt, truncated or
 * not a cloudboot run database. `path` is the directory or file.
 */
export class RunDatabaseError extends CloudbootError {
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('RUN_DATABASE', message, options);
  }
}

/** Another live process holds the run's lock. */
export class RunLockedError extends CloudbootError {
  constructor(
    readonly runName: string,
    readonly holder: string,
  ) {
    super('RUN_LOCKED', `Run "${runName}" is in use by ${holder}; wait for it to finish.`);
  }
}

/** The API was used out of order (e.g. `poll()` before `start()`). */
export class UsageError extends CloudbootError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * An operation was stopped before it finished (`CloudBoot.abort()`, which
 * the CLI calls on Ctrl-C). Every service keeps the state it had reached, so
 * starting again (the CLI's `resume`) continues from there.
 */
export class InterruptedError extends CloudbootError {
  constructor(message: string) {
    super('INTERRUPTED', message);
  }
}

/** Phases in which a service can fail. */
export type ServicePhase =
  | 'resolve'
  | 'launch'
  | 'address'
  | 'connect'
  | 'contextualize'
  | 'ready'
  | 'terminate';

/** A service failed; carries the phase and the tail of the failing program's output. */
export class ServiceFailedError extends CloudbootError {
  constructor(
    readonly service: string,
    readonly phase: ServicePhase,
    message: string,
    readonly stderrTail = '',
    readonly stdoutTail = '',
    options?: { cause?: unknown },
  ) {
    super('SERVICE_FAILED', `${service}: ${phase} failed: ${message}`, options);
  }
}

/** One or more services failed during an operation. */
export class BootFailedError extends CloudbootError {
  constructor(readonly failures: readonly ServiceFailedError[]) {
    super(
      'BOOT_FAILED',
      failures.length === 1
        ? (failures[0]?.message ?? 'a service failed')
        : `${failures.length} services failed:\n${failures.map((f) => `  ${f.message}`).join('\n')}`,
    );
  }
}

/**
 * Every class of driver failure; core decides retry policy from them.
 * `throttled` and `transient` may succeed when repeated; the others are
 * refusals: the cloud made nothing.
 */
export const DRIVER_ERROR_KINDS = [
  'auth',
  'throttled',
  'capacity',
  'quota',
  'not-found',
  'invalid-request',
  'transient',
] as const;

/** One of {@link DRIVER_ERROR_KINDS}. */
export type DriverErrorKind = (typeof DRIVER_ERROR_KINDS)[number];

/** An IaaS call failed. `kind` says whether retrying can help. */
export class DriverError extends CloudbootError {
  constructor(
    readonly kind: DriverErrorKind,
    readonly driver: string,
    message: string,
    options?: { cause?: unknown; instanceId?: string; retryAfterMs?: number },
  ) {
    super('DRIVER', `${driver}: ${message}`, options);
    this.instanceId = options?.instanceId;
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** Id of an instance that was partially created before the failure, if any. */
  readonly instanceId: string | undefined;

  /**
   * How long the cloud asked the client to wait before repeating the call
   * (its `Retry-After`), when it said; a retry waits at least that long.
   */
  readonly retryAfterMs: number | undefined;

  /** Whether the same call may succeed if repeated after a pause. */
  get retryable(): boolean {
    return this.kind === 'throttled' || this.kind === 'transient';
  }
}

/** Stages of reaching a machine, in order. */
export type ConnectStage = 'tcp' | 'handshake' | 'host-key' | 'auth' | 'command';

/** A machine could not be reached or used; says which stage failed. */
export class RemoteError extends CloudbootError {
  constructor(
    readonly target: string,
    readonly stage: ConnectStage,
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super('REMOTE', `${target}: ${stage}: ${message}`, options);
  }
}

/** A driver module could not be found or does not have the expected shape. */
export class DriverLoadError extends CloudbootError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DRIVER_LOAD', message, options);
  }
}
