/**
 * One service's part in one operation: it owns the clock of that part and
 * its outcome (failed, complete, interrupted, not executed), and runs the
 * steps of the service's pipeline with the abort rule written once: no step
 * starts after the operation was aborted, and whatever a step throws after
 * the abort ends the service as interrupted, its state left as recorded so
 * that `resume` continues from there.
 */
import { ServiceFailedError, type ServicePhase } from '../errors.js';
import type { ServiceRecord, TransitionFields } from '../state/run-store.js';
import type { ServiceState } from '../state/service-state.js';
import type { OperationContext, ServiceOutcome } from './operation-context.js';

/** The tails of a failed program's output that a failure carries. */
export interface OutputTails {
  readonly stdoutTail?: string;
  readonly stderrTail?: string;
}

/** What {@link ServiceRun.fail} records. */
export interface FailureOptions {
  readonly phase: ServicePhase;
  readonly message: string;
  readonly tails?: OutputTails;
  /** Fields recorded with the move to `failed` besides the failure (a launch token cleared …). */
  readonly fields?: TransitionFields;
}

/**
 * One step of a pipeline. It returns an outcome to end the pipeline there,
 * or undefined to go on. An error it throws (before any abort) for which
 * `failsAs.when` holds fails the service in `failsAs.phase`; any other
 * propagates to {@link guardService}.
 */
export interface PipelineStep {
  readonly run: () => Promise<ServiceOutcome | undefined> | ServiceOutcome | undefined;
  readonly failsAs?: {
    readonly phase: ServicePhase;
    readonly when: (error: unknown) => boolean;
    readonly tails?: (error: unknown) => OutputTails;
  };
}

/** The phase a service in `state` is in, for errors that do not say. */
function phaseOf(state: ServiceState): ServicePhase {
  switch (state) {
    case 'pending':
      return 'resolve';
    case 'launching':
      return 'launch';
    case 'launched':
      return 'address';
    case 'addressed':
      return 'connect';
    case 'reachable':
    case 'contextualizing':
      return 'contextualize';
    case 'terminating':
      return 'terminate';
    default:
      return 'ready';
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A service's part in one operation, from its start to its outcome. */
export class ServiceRun {
  readonly #started = performance.now();

  constructor(
    /** The operation this part belongs to. */
    readonly ctx: OperationContext,
    /** The service's name. */
    readonly name: string,
  ) {}

  /** The service's current record. */
  get record(): ServiceRecord {
    return this.ctx.record(this.name);
  }

  /** Emits the start of the service's part in the operation. */
  starting(): void {
    const record = this.record;
    this.ctx.emit({
      type: 'service',
      action: 'starting',
      operation: this.ctx.operation,
      service: this.name,
      level: record.level,
      state: record.state,
      at: Date.now(),
    });
  }

  /**
   * Records the failure (state `failed`; the message and tails redacted of
   * the service's secrets), emits it, and returns the outcome.
   */
  fail({ phase, message, tails = {}, fields = {} }: FailureOptions): ServiceOutcome {
    const { attrs } = this.ctx;
    // Failures are stored and shown: no credential may ride along in them.
    const said = attrs.redact(this.name, message);
    const stdoutTail = attrs.redact(this.name, tails.stdoutTail ?? '');
    const stderrTail = attrs.redact(this.name, tails.stderrTail ?? '');
    const record = this.ctx.move(this.name, 'failed', {
      ...fields,
      failure: { phase, message: said, stdoutTail, stderrTail },
      detail: `${phase}: ${said}`,
    });
    const error = new ServiceFailedError(this.name, phase, said, stderrTail, stdoutTail);
    this.ctx.emit({
      type: 'service',
      action: 'error',
      operation: this.ctx.operation,
      service: this.name,
      level: record.level,
      state: 'failed',
      at: Date.now(),
      elapsedMs: performance.now() - this.#started,
      error: { phase, message: said, stderrTail, stdoutTail },
    });
    return { service: this.name, level: record.level, status: 'error', error };
  }

  /** Emits success and returns the outcome. */
  complete(): ServiceOutcome {
    const record = this.record;
    this.ctx.emit({
      type: 'service',
      action: 'complete',
      operation: this.ctx.operation,
      service: this.name,
      level: record.level,
      state: record.state,
      at: Date.now(),
      elapsedMs: performance.now() - this.#started,
    });
    return { service: this.name, level: record.level, status: 'success' };
  }

  /** The outcome of a service the operation was interrupted in; its state stays as recorded. */
  interrupted(): ServiceOutcome {
    const record = this.record;
    this.ctx.logs.note(this.name, `interrupted in state ${record.state}`);
    return { service: this.name, level: record.level, status: 'interrupted' };
  }

  /** The outcome of a service the operation had nothing to do for. */
  notExecuted(): ServiceOutcome {
    return { service: this.name, level: this.record.level, status: 'not-executed' };
  }

  /**
   * Runs `steps` in order until one returns an outcome (returned) or all
   * went through (undefined). Before each step, and on a throw after the
   * abort, the outcome is {@link interrupted}.
   */
  async steps(steps: readonly PipelineStep[]): Promise<ServiceOutcome | undefined> {
    for (const step of steps) {
      if (this.ctx.aborted) return this.interrupted();
      try {
        const outcome = await step.run();
        if (outcome !== undefined) return outcome;
      } catch (error) {
        if (this.ctx.aborted) return this.interrupted();
        const fails = step.failsAs;
        if (fails === undefined || !fails.when(error)) throw error;
        return this.fail({
          phase: fails.phase,
          message: messageOf(error),
          tails: fails.tails?.(error) ?? {},
        });
      }
    }
    return undefined;
  }
}

/**
 * Runs one service's part of an operation and turns anything it throws
 * into that service's failure (in the phase its state says it was in), or
 * into `interrupted` after an abort: one service's unexpected error must
 * not end the operation while the others still run.
 */
export async function guardService(
  ctx: OperationContext,
  name: string,
  body: (run: ServiceRun) => Promise<ServiceOutcome>,
): Promise<ServiceOutcome> {
  const run = new ServiceRun(ctx, name);
  try {
    return await body(run);
  } catch (error) {
    if (ctx.aborted) return run.interrupted();
    return run.fail({ phase: phaseOf(run.record.state), message: messageOf(error) });
  }
}
