/**
 * The timeline of a run, built from its recorded transitions: for each
 * service, one bar per stage it went through (launch, waiting for the
 * cloud, SSH readiness, boot program, ready program, terminate), with
 * failures and their messages.
 */
import type { ServiceRecord, ServiceState, TransitionRecord } from '@cloudboot/core';

/** A stage of a service's timeline. */
export type StageKind = 'launch' | 'cloud' | 'ssh' | 'boot' | 'ready' | 'terminate';

/** Every stage, in the order a boot and a shutdown go through them. */
export const STAGE_KINDS: readonly StageKind[] = [
  'launch',
  'cloud',
  'ssh',
  'boot',
  'ready',
  'terminate',
];

/** Stages spent waiting for the cloud or the machine, rather than running programs. */
export const WAITING_STAGES: ReadonlySet<StageKind> = new Set(['launch', 'cloud', 'ssh']);

/** How each stage is named in the report. */
export const STAGE_NAMES: Readonly<Record<StageKind, string>> = {
  launch: 'launch',
  cloud: 'waiting for the cloud',
  ssh: 'SSH readiness',
  boot: 'boot program',
  ready: 'ready program',
  terminate: 'terminate',
};

/** Time a service spent in one stage. */
export interface StageBar {
  readonly stage: StageKind;
  /** ms since the epoch. */
  readonly start: number;
  readonly end: number;
  /** The stage ended in `failed`. */
  readonly failed: boolean;
  /** Failure message (`phase: message`) when `failed`. */
  readonly message?: string;
  /** The stage had not ended when the report was made (a run in progress or a crash). */
  readonly open: boolean;
}

/** A failure that happened outside a stage (a status check whose ready program failed). */
export interface FailureMark {
  readonly at: number;
  readonly message: string;
}

/** One service's timeline. */
export interface ServiceTimeline {
  readonly name: string;
  readonly level: number;
  readonly state: ServiceState;
  readonly bars: readonly StageBar[];
  readonly failures: readonly FailureMark[];
}

/** A run's timeline. */
export interface Timeline {
  readonly run: string;
  readonly services: readonly ServiceTimeline[];
}

/** The stage a service is in while in `state`; undefined for states at rest. */
function stageIn(state: ServiceState): StageKind | undefined {
  switch (state) {
    case 'launching':
      return 'launch';
    case 'launched':
      return 'cloud';
    case 'addressed':
      return 'ssh';
    case 'reachable':
    case 'contextualizing':
      return 'boot';
    case 'contextualized':
      return 'ready';
    case 'terminating':
      return 'terminate';
    default:
      return undefined;
  }
}

function serviceTimeline(
  record: ServiceRecord,
  transitions: readonly TransitionRecord[],
  until: number,
): ServiceTimeline {
  const bars: StageBar[] = [];
  const failures: FailureMark[] = [];
  for (const [i, t] of transitions.entries()) {
    const next = transitions[i + 1];
    const stage = stageIn(t.to);
    if (next?.to === 'failed' && stage === undefined) {
      failures.push({ at: next.at, message: next.detail ?? 'failed' });
    }
    if (stage === undefined) continue;
    const end = next?.at ?? Math.max(until, t.at);
    const failed = next?.to === 'failed';
    const bar: StageBar = {
      stage,
      start: t.at,
      end,
      failed,
      open: next === undefined,
      ...(failed && { message: next?.detail ?? 'failed' }),
    };
    // reachable -> contextualizing is one boot stage.
    const last = bars.at(-1);
    if (last !== undefined && last.stage === stage && last.end === t.at && !last.failed) {
      bars[bars.length - 1] = { ...bar, start: last.start };
    } else {
      bars.push(bar);
    }
  }
  return { name: record.name, level: record.level, state: record.state, bars, failures };
}

/**
 * Builds the timeline of run `run` from its services (in plan order) and
 * its transition log. Stages still open end at `until` (default: the last
 * recorded transition).
 */
export function timelineOf(
  run: string,
  services: readonly ServiceRecord[],
  transitions: readonly TransitionRecord[],
  until?: number,
): Timeline {
  const byService = new Map<string, TransitionRecord[]>();
  let last = 0;
  for (const t of transitions) {
    const list = byService.get(t.service) ?? [];
    if (list.length === 0) byService.set(t.service, list);
    list.push(t);
    last = Math.max(last, t.at);
  }
  return {
    run,
    services: services.map((s) => serviceTimeline(s, byService.get(s.name) ?? [], until ?? last)),
  };
}
