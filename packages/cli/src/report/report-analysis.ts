/**
 * What a timeline says: the busy periods of the run (long idle gaps between
 * operations are left out of the chart), each level's window in each
 * operation with its slowest service (the critical path: a level starts
 * when the one before it has finished), and where the time went.
 */
import {
  type ServiceTimeline,
  type StageBar,
  type StageKind,
  type Timeline,
  WAITING_STAGES,
} from './report-timeline.js';

/** A gap without any stage longer than this splits the chart (boot … terminate days later). */
export const IDLE_GAP_MS = 30_000;

/** A period in which some service was in a stage. */
export interface Episode {
  readonly start: number;
  readonly end: number;
}

/** Operations a level window belongs to. */
export type WindowKind = 'boot' | 'terminate';

/** One level's part of one operation: from its first stage to its last. */
export interface LevelWindow {
  readonly level: number;
  readonly kind: WindowKind;
  readonly start: number;
  readonly end: number;
  /** Services with a stage in the window. */
  readonly services: number;
  /** Services whose stage failed in the window. */
  readonly failed: number;
  /** The service that finished last: the level's part of the critical path. */
  readonly critical: string;
  /** Time the critical service took in the window. */
  readonly criticalMs: number;
}

/** The analysis of a timeline. */
export interface Analysis {
  readonly episodes: readonly Episode[];
  /** Level windows, by start time. */
  readonly windows: readonly LevelWindow[];
  /** Sum of the episodes' lengths. */
  readonly wallMs: number;
  /** Time services spent in launch, waiting for the cloud and SSH readiness (summed over services). */
  readonly waitingMs: number;
  /** Time services spent running boot, ready and terminate programs (summed over services). */
  readonly programsMs: number;
  /** Time services spent in each stage (summed over services). */
  readonly byStage: Readonly<Record<StageKind, number>>;
}

function episodesOf(services: readonly ServiceTimeline[]): Episode[] {
  const spans: [number, number][] = [];
  for (const s of services) {
    for (const b of s.bars) spans.push([b.start, b.end]);
    for (const f of s.failures) spans.push([f.at, f.at]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  const episodes: { start: number; end: number }[] = [];
  for (const [start, end] of spans) {
    const last = episodes.at(-1);
    if (last !== undefined && start - last.end <= IDLE_GAP_MS) last.end = Math.max(last.end, end);
    else episodes.push({ start, end });
  }
  return episodes;
}

/** Index of the episode holding time `at`. */
export function episodeOf(episodes: readonly Episode[], at: number): number {
  let lo = 0;
  let hi = episodes.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((episodes[mid] as Episode).start <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

const kindOf = (stage: StageKind): WindowKind => (stage === 'terminate' ? 'terminate' : 'boot');

interface WindowDraft {
  level: number;
  kind: WindowKind;
  start: number;
  end: number;
  services: Set<string>;
  failed: Set<string>;
  /** Per service: first start and last end in the window. */
  spans: Map<string, [number, number]>;
}

/** Analyses `timeline`. */
export function analyse(timeline: Timeline): Analysis {
  const episodes = episodesOf(timeline.services);
  const drafts = new Map<string, WindowDraft>();
  let waitingMs = 0;
  let programsMs = 0;
  const byStage: Record<StageKind, number> = {
    launch: 0,
    cloud: 0,
    ssh: 0,
    boot: 0,
    ready: 0,
    terminate: 0,
  };
  const add = (
    s: ServiceTimeline,
    kind: WindowKind,
    start: number,
    end: number,
    failed: boolean,
  ) => {
    const key = `${s.level}/${kind}/${episodeOf(episodes, start)}`;
    let w = drafts.get(key);
    if (w === undefined) {
      w = {
        level: s.level,
        kind,
        start,
        end,
        services: new Set(),
        failed: new Set(),
        spans: new Map(),
      };
      drafts.set(key, w);
    }
    w.start = Math.min(w.start, start);
    w.end = Math.max(w.end, end);
    w.services.add(s.name);
    if (failed) w.failed.add(s.name);
    const span = w.spans.get(s.name);
    if (span === undefined) w.spans.set(s.name, [start, end]);
    else span[1] = Math.max(span[1], end);
  };
  for (const s of timeline.services) {
    for (const b of s.bars) {
      if (WAITING_STAGES.has(b.stage)) waitingMs += b.end - b.start;
      else programsMs += b.end - b.start;
      byStage[b.stage] += b.end - b.start;
      add(s, kindOf(b.stage), b.start, b.end, b.failed);
    }
    for (const f of s.failures) add(s, 'boot', f.at, f.at, true);
  }
  const windows = [...drafts.values()].map((w): LevelWindow => {
    let critical = '';
    let last = -Infinity;
    let criticalMs = 0;
    for (const [name, [start, end]] of w.spans) {
      if (end > last) {
        last = end;
        critical = name;
        criticalMs = end - start;
      }
    }
    return {
      level: w.level,
      kind: w.kind,
      start: w.start,
      end: w.end,
      services: w.services.size,
      failed: w.failed.size,
      critical,
      criticalMs,
    };
  });
  windows.sort((a, b) => a.start - b.start || a.level - b.level);
  const wallMs = episodes.reduce((n, e) => n + (e.end - e.start), 0);
  return { episodes, windows, wallMs, waitingMs, programsMs, byStage };
}

/** True when `bar` of `service` lies on the critical path. */
export function onCriticalPath(
  analysis: Analysis,
  service: ServiceTimeline,
  bar: StageBar,
): boolean {
  return analysis.windows.some(
    (w) =>
      w.critical === service.name &&
      w.level === service.level &&
      w.kind === kindOf(bar.stage) &&
      bar.start >= w.start &&
      bar.end <= w.end,
  );
}
