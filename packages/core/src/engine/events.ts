/**
 * Progress events of an operation (boot, shutdown, status, repair). The same
 * stream feeds the seed API's callbacks, typed listeners, the async iterator
 * and the CLI's `--json` output.
 */
import type { InstanceState } from '../driver/driver.js';
import type { ServicePhase } from '../errors.js';
import type { ServiceState } from '../state/service-state.js';

/** Callback actions of the seed API. */
export type EventAction = 'starting' | 'transition' | 'complete' | 'error';

/** Operations that walk the plan. */
export type OperationKind = 'boot' | 'shutdown' | 'status' | 'repair';

/** A level started, completed, or failed. */
export interface LevelEvent {
  readonly type: 'level';
  readonly action: Exclude<EventAction, 'transition'>;
  readonly operation: OperationKind;
  readonly level: number;
  readonly services: readonly string[];
  /** ms since the epoch. */
  readonly at: number;
  /** Time since the level started (complete/error only). */
  readonly elapsedMs?: number;
}

/** A service started an operation, changed state, finished, or failed. */
export interface ServiceEvent {
  readonly type: 'service';
  readonly action: EventAction;
  readonly operation: OperationKind;
  readonly service: string;
  readonly level: number;
  readonly state: ServiceState;
  readonly previous?: ServiceState;
  /** Instance id, hostname, program name … whatever explains the transition. */
  readonly detail?: string;
  readonly at: number;
  /** Time since this service's operation started. */
  readonly elapsedMs?: number;
  /** Set with action `error`. */
  readonly error?: {
    readonly phase: ServicePhase;
    readonly message: string;
    readonly stderrTail: string;
    readonly stdoutTail: string;
  };
}

/** One of a service's programs finished (boot, ready or terminate program). */
export interface ProgramEvent {
  readonly type: 'program';
  readonly operation: OperationKind;
  readonly service: string;
  readonly level: number;
  /** Plan key of the program. */
  readonly program: 'bootpgm' | 'readypgm' | 'terminatepgm';
  /** Exit status; null when killed (see `timedOut`). */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** Wall time of the program as measured where it ran (executor side). */
  readonly durationMs: number;
  readonly at: number;
}

/**
 * What the cloud says about a service's launched instance, next to what the
 * run recorded (status and repair ask every driver account once, first).
 */
export interface CloudEvent {
  readonly type: 'cloud';
  readonly operation: OperationKind;
  readonly service: string;
  readonly level: number;
  readonly instanceId: string;
  /** The service's recorded state. */
  readonly recorded: ServiceState;
  /** The cloud's state of the instance; absent when it could not be asked. */
  readonly state?: InstanceState;
  readonly nativeState?: string;
  /** Why the cloud could not be asked. */
  readonly error?: string;
  readonly at: number;
}

/** Any progress event. */
export type CloudBootEvent = LevelEvent | ServiceEvent | ProgramEvent | CloudEvent;

/** Receives events as they happen. */
export type EventSink = (event: CloudBootEvent) => void;
