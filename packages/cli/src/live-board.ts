/**
 * The lines of the live block: one per in-flight service (stage, elapsed
 * time, instance and address), or, when they do not fit on the screen, a
 * count by stage and the slowest services.
 */
import { duration, type InFlight } from './service-stages.js';

/** Width of the stage column (`waiting for running` and a space). */
const STAGE_WIDTH = 20;

/** Rows of the terminal the block leaves to the lines above it. */
const KEEP_ROWS = 2;

/** How to lay out the block. */
export interface BoardLayout {
  /** Width of the service-name column (the same as the ✓ lines). */
  readonly nameWidth: number;
  readonly width: number;
  readonly height: number;
  readonly now: number;
  /** Paints the marker of an in-flight line (dim on a colour terminal). */
  readonly mark: (text: string) => string;
}

function where(s: InFlight): string {
  return [s.instanceId, s.address].filter((x) => x !== undefined && x !== '').join(' ');
}

/** Cuts `text` to `columns` characters, marking the cut with `…`. */
function fit(text: string, columns: number): string {
  if (text.length <= columns) return text;
  return columns <= 1 ? text.slice(0, columns) : `${text.slice(0, columns - 1)}…`;
}

/** One in-flight line: `  … web-3   boot program   12s  i-0abc 10.0.0.3`. */
function serviceLine(s: InFlight, layout: BoardLayout): string {
  const text =
    `${s.service.padEnd(layout.nameWidth)}${s.stage.padEnd(STAGE_WIDTH)}` +
    `${duration(layout.now - s.startedAt).padStart(6)}  ${where(s)}`.trimEnd();
  // A line never fills the last column: it must not wrap.
  return `  ${layout.mark('…')} ${fit(text, Math.max(1, layout.width - 5))}`;
}

/** Services in flight by stage: `boot program 40, launching 57`. */
function byStage(services: readonly InFlight[]): string {
  const counts = new Map<string, number>();
  for (const s of services) counts.set(s.stage, (counts.get(s.stage) ?? 0) + 1);
  return [...counts].map(([stage, n]) => `${stage} ${n}`).join(', ');
}

/** The block's lines for `services` (in the order they started). */
export function boardLines(services: readonly InFlight[], layout: BoardLayout): string[] {
  if (services.length === 0) return [];
  const room = Math.max(2, layout.height - KEEP_ROWS);
  if (services.length <= room) return services.map((s) => serviceLine(s, layout));
  const slowest = [...services].sort((a, b) => a.startedAt - b.startedAt).slice(0, room - 1);
  const head = `${services.length} in flight (${byStage(services)}); slowest:`;
  return [
    `  ${layout.mark('…')} ${fit(head, Math.max(1, layout.width - 5))}`,
    ...slowest.map((s) => serviceLine(s, layout)),
  ];
}
