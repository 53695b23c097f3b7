/**
 * What each service of a running operation is doing right now, derived from
 * the library's events: its stage (`launching`, `waiting for SSH`, `boot
 * program` …), since when, and the instance and address once known. Feeds
 * the live lines on a terminal and the "still in" lines elsewhere.
 */
import type { CloudBootEvent, OperationKind, ServiceEvent, ServiceState } from '@cloudboot/core';

/** What an in-flight service is waiting for. */
export type Stage =
  | 'starting'
  | 'launching'
  | 'waiting for running'
  | 'waiting for SSH'
  | 'boot program'
  | 'ready program'
  | 'terminate program'
  | 'terminating';

/** One service that started and has not finished yet. */
export interface InFlight {
  readonly service: string;
  readonly level: number;
  readonly stage: Stage;
  /** When the service's part of the operation started (ms since the epoch). */
  readonly startedAt: number;
  /** When it entered its current stage. */
  readonly stageAt: number;
  readonly instanceId?: string;
  readonly address?: string;
}

/** The machine a service already had when it started (resume, status). */
export interface KnownMachine {
  readonly instanceId: string | null;
  readonly hostname: string | null;
}

/**
 * The stage a service is in once it reached `state` during `operation`:
 * the step that follows that state.
 */
function stageOf(operation: OperationKind, state: ServiceState, detail?: string): Stage {
  if (operation === 'shutdown') return detail === 'dash-nine' ? 'terminating' : 'terminate program';
  if (operation === 'status') return 'ready program';
  switch (state) {
    case 'pending':
    case 'launching':
    case 'terminated':
      return 'launching';
    case 'launched':
      return 'waiting for running';
    case 'addressed':
      return 'waiting for SSH';
    case 'reachable':
    case 'contextualizing':
      return 'boot program';
    case 'contextualized':
    case 'ready':
      return 'ready program';
    case 'terminating':
      return 'terminate program';
    case 'failed':
      return 'starting';
  }
}

/** The in-flight services of one operation, in the order they started. */
export class StageTracker {
  readonly #flying = new Map<string, InFlight>();
  readonly #machine: (service: string) => KnownMachine;

  /** `machine` tells what a service that starts already has (resume, status). */
  constructor(machine: (service: string) => KnownMachine) {
    this.#machine = machine;
  }

  /** Forgets every service (a new operation begins). */
  clear(): void {
    this.#flying.clear();
  }

  /** Applies one event. */
  apply(event: CloudBootEvent): void {
    if (event.type === 'service') this.#service(event);
  }

  /** Services in flight, in the order they started. */
  inFlight(): InFlight[] {
    return [...this.#flying.values()];
  }

  #service(event: ServiceEvent): void {
    const name = event.service;
    const current = this.#flying.get(name);
    switch (event.action) {
      case 'starting': {
        const known = this.#machine(name);
        this.#flying.set(name, {
          service: name,
          level: event.level,
          stage: stageOf(event.operation, event.state),
          startedAt: event.at,
          stageAt: event.at,
          ...(known.instanceId !== null && { instanceId: known.instanceId }),
          ...(known.hostname !== null && { address: known.hostname }),
        });
        return;
      }
      case 'transition': {
        if (current === undefined) return;
        const stage = stageOf(event.operation, event.state, event.detail);
        const next: InFlight = {
          ...current,
          stage,
          stageAt: stage === current.stage ? current.stageAt : event.at,
          ...(event.state === 'launched' &&
            event.detail !== undefined && {
              instanceId: event.detail,
            }),
          ...(event.state === 'addressed' &&
            event.detail !== undefined && {
              address: event.detail,
            }),
        };
        this.#flying.set(name, next);
        return;
      }
      case 'complete':
      case 'error':
        this.#flying.delete(name);
    }
  }
}

/** A duration for people: `7s`, `1m30s`, `2h05m`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
