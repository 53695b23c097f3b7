/**
 * The report of a run as one self-contained HTML file: a Gantt chart in
 * inline SVG (a row per service, a bar per stage, grouped by level with the
 * level windows drawn behind, the critical path outlined, failures in red
 * with their message on hover) and a summary table. No script, no external
 * resource; everything from the run database is escaped.
 */
import { formatTime } from '../table.js';
import {
  type Analysis,
  analyse,
  type Episode,
  episodeOf,
  type LevelWindow,
  onCriticalPath,
} from './report-analysis.js';
import {
  type ServiceTimeline,
  STAGE_KINDS,
  STAGE_NAMES,
  type StageBar,
  type StageKind,
  type Timeline,
} from './report-timeline.js';

/** Above this many services, big levels show only their notable services and one aggregate row. */
export const AGGREGATE_ABOVE = 500;

/** Services shown one by one in an aggregated level (failures first, then the slowest). */
export const DETAIL_ROWS = 30;

const LABEL_W = 220;
const CHART_W = 1000;
const GAP_W = 40;
const AXIS_H = 34;
const ROW_H = 16;
const BAR_H = 10;
const LEVEL_H = 22;

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** A duration for the chart: `250ms`, `4.2s`, `1m30s`, `2h05m`. */
function shortDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** Maps times to x coordinates: episodes side by side, idle gaps between them a fixed width. */
class TimeAxis {
  readonly #episodes: readonly Episode[];
  readonly #offsets: number[] = [];
  readonly scale: number;

  constructor(episodes: readonly Episode[]) {
    this.#episodes = episodes;
    const busy = episodes.reduce((n, e) => n + (e.end - e.start), 0);
    this.scale = (CHART_W - GAP_W * Math.max(0, episodes.length - 1)) / Math.max(1, busy);
    let x = LABEL_W;
    for (const e of episodes) {
      this.#offsets.push(x);
      x += (e.end - e.start) * this.scale + GAP_W;
    }
  }

  x(at: number): number {
    if (this.#episodes.length === 0) return LABEL_W;
    const i = episodeOf(this.#episodes, at);
    const e = this.#episodes[i] as Episode;
    return (this.#offsets[i] ?? LABEL_W) + (Math.min(at, e.end) - e.start) * this.scale;
  }
}

const px = (n: number) => Number(n.toFixed(1));

/** What the chart shows of one level: service rows and, for a big level, an aggregate row. */
interface LevelRows {
  readonly level: number;
  readonly detail: readonly ServiceTimeline[];
  readonly rest: readonly ServiceTimeline[];
}

const busyMs = (s: ServiceTimeline) => s.bars.reduce((n, b) => n + (b.end - b.start), 0);
const hasFailed = (s: ServiceTimeline) => s.failures.length > 0 || s.bars.some((b) => b.failed);

function levelRows(timeline: Timeline): LevelRows[] {
  const levels = new Map<number, ServiceTimeline[]>();
  for (const s of timeline.services) {
    const list = levels.get(s.level) ?? [];
    if (list.length === 0) levels.set(s.level, list);
    list.push(s);
  }
  const aggregate = timeline.services.length > AGGREGATE_ABOVE;
  return [...levels.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([level, services]) => {
      if (!aggregate || services.length <= DETAIL_ROWS)
        return { level, detail: services, rest: [] };
      const failed = services.filter(hasFailed).slice(0, DETAIL_ROWS);
      const slowest = services
        .filter((s) => !hasFailed(s))
        .sort((a, b) => busyMs(b) - busyMs(a))
        .slice(0, DETAIL_ROWS - failed.length);
      const shown = new Set([...failed, ...slowest]);
      return {
        level,
        detail: services.filter((s) => shown.has(s)),
        rest: services.filter((s) => !shown.has(s)),
      };
    });
}

function barTitle(service: string, bar: StageBar, critical: boolean): string {
  const parts = [
    `${service}: ${STAGE_NAMES[bar.stage]} ${shortDuration(bar.end - bar.start)}`,
    `${formatTime(bar.start)} to ${formatTime(bar.end)}`,
  ];
  if (bar.open) parts.push('not finished when the report was made');
  if (critical) parts.push('on the critical path');
  if (bar.failed) parts.push(`FAILED: ${bar.message ?? ''}`);
  return parts.join('\n');
}

function rect(x1: number, x2: number, y: number, cls: string, title: string, attrs = ''): string {
  const w = Math.max(1, x2 - x1);
  return `<rect class="${cls}" x="${px(x1)}" y="${y}" width="${px(w)}" height="${BAR_H}"${attrs}><title>${escapeHtml(title)}</title></rect>`;
}

function serviceRow(s: ServiceTimeline, y: number, axis: TimeAxis, analysis: Analysis): string {
  const parts: string[] = [];
  const bars = s.bars.map((bar) => {
    const critical = onCriticalPath(analysis, s, bar);
    const cls = [
      'bar',
      bar.failed ? 'failed' : bar.stage,
      critical ? 'crit' : '',
      bar.open ? 'open' : '',
    ]
      .filter((c) => c !== '')
      .join(' ');
    return rect(
      axis.x(bar.start),
      axis.x(bar.end),
      3,
      cls,
      barTitle(s.name, bar, critical),
      ` data-stage="${bar.stage}"`,
    );
  });
  const marks = s.failures.map((f) =>
    rect(
      axis.x(f.at) - 1.5,
      axis.x(f.at) + 1.5,
      3,
      'bar failed mark',
      `${s.name}: ${formatTime(f.at)}\nFAILED: ${f.message}`,
    ),
  );
  const failed = hasFailed(s) ? ' failed' : '';
  parts.push(
    `<g class="svc${failed}" data-service="${escapeHtml(s.name)}" transform="translate(0,${y})">`,
    `<text class="name" x="${LABEL_W - 8}" y="${BAR_H + 1}">${escapeHtml(s.name)}</text>`,
    ...bars,
    ...marks,
    '</g>',
  );
  return parts.join('');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** One row for many services: per stage and episode, a bar from the first start to the last end. */
function aggregateRow(
  level: number,
  services: readonly ServiceTimeline[],
  y: number,
  axis: TimeAxis,
  analysis: Analysis,
): string {
  const groups = new Map<
    string,
    { stage: StageKind; start: number; end: number; took: number[]; failed: number }
  >();
  for (const s of services) {
    for (const b of s.bars) {
      const key = `${b.stage}/${episodeOf(analysis.episodes, b.start)}`;
      const g = groups.get(key) ?? {
        stage: b.stage,
        start: b.start,
        end: b.end,
        took: [],
        failed: 0,
      };
      groups.set(key, g);
      g.start = Math.min(g.start, b.start);
      g.end = Math.max(g.end, b.end);
      g.took.push(b.end - b.start);
      if (b.failed) g.failed++;
    }
  }
  const bars = [...groups.values()].map((g) => {
    const took = g.took.sort((a, b) => a - b);
    const title =
      `${took.length} more services of level ${level}: ${STAGE_NAMES[g.stage]}\n` +
      `median ${shortDuration(percentile(took, 0.5))}, 90th percentile ${shortDuration(percentile(took, 0.9))}, longest ${shortDuration(took.at(-1) ?? 0)}` +
      (g.failed > 0 ? `\n${g.failed} failed` : '');
    return rect(
      axis.x(g.start),
      axis.x(g.end),
      3,
      `bar agg ${g.stage}`,
      title,
      ` data-stage="${g.stage}"`,
    );
  });
  return (
    `<g class="agg" data-level="${level}" data-services="${services.length}" transform="translate(0,${y})">` +
    `<text class="name" x="${LABEL_W - 8}" y="${BAR_H + 1}">+ ${services.length} more services</text>${bars.join('')}</g>`
  );
}

/** A step between axis ticks that gives about `count` ticks over `span` ms. */
function tickStep(span: number, count: number): number {
  const raw = Math.max(1, span / Math.max(1, count));
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function axisMarks(analysis: Analysis, axis: TimeAxis, height: number): string {
  const out: string[] = [];
  for (const [i, e] of analysis.episodes.entries()) {
    const x0 = axis.x(e.start);
    const width = (e.end - e.start) * axis.scale;
    const step = tickStep(e.end - e.start, Math.max(1, Math.floor(width / 90)));
    out.push(
      `<text class="episode" x="${px(x0)}" y="12">${escapeHtml(formatTime(e.start))}</text>`,
    );
    for (let t = 0; t <= e.end - e.start; t += step) {
      const x = px(x0 + t * axis.scale);
      out.push(`<line class="tick" x1="${x}" x2="${x}" y1="${AXIS_H - 6}" y2="${height}"/>`);
      out.push(`<text class="tick" x="${x}" y="${AXIS_H - 9}">+${shortDuration(t)}</text>`);
    }
    const next = analysis.episodes[i + 1];
    if (next !== undefined) {
      const gx = px(x0 + width + 4);
      out.push(
        `<g class="idle"><rect x="${gx}" y="${AXIS_H}" width="${GAP_W - 8}" height="${height - AXIS_H}"/>` +
          `<text x="${px(gx + (GAP_W - 8) / 2)}" y="${AXIS_H + 12}">idle</text>` +
          `<title>nothing ran for ${shortDuration(next.start - e.end)}</title></g>`,
      );
    }
  }
  return out.join('');
}

function levelBands(
  windows: readonly LevelWindow[],
  y: number,
  height: number,
  axis: TimeAxis,
): string {
  return windows
    .map((w) => {
      const x1 = px(axis.x(w.start));
      const x2 = px(Math.max(axis.x(w.end), axis.x(w.start) + 1));
      const title = `level ${w.level} ${w.kind}: ${shortDuration(w.end - w.start)}, ${w.services} services, slowest ${w.critical}`;
      return (
        `<g class="window ${w.kind}"><rect x="${x1}" y="${y}" width="${px(x2 - x1)}" height="${height}"><title>${escapeHtml(title)}</title></rect>` +
        `<line x1="${x1}" x2="${x1}" y1="${y}" y2="${y + height}"/><line x1="${x2}" x2="${x2}" y1="${y}" y2="${y + height}"/></g>`
      );
    })
    .join('');
}

function chart(timeline: Timeline, analysis: Analysis): string {
  const axis = new TimeAxis(analysis.episodes);
  const body: string[] = [];
  let y = AXIS_H + 4;
  for (const rows of levelRows(timeline)) {
    const count = rows.detail.length + rows.rest.length;
    const height = LEVEL_H + (rows.detail.length + (rows.rest.length > 0 ? 1 : 0)) * ROW_H;
    const windows = analysis.windows.filter((w) => w.level === rows.level);
    body.push(
      `<g class="level" data-level="${rows.level}">`,
      levelBands(windows, y, height, axis),
      `<line class="level-rule" x1="0" x2="${LABEL_W + CHART_W}" y1="${y}" y2="${y}"/>`,
      `<text class="level-name" x="4" y="${y + 15}">level ${rows.level} (${count} service${count === 1 ? '' : 's'})</text>`,
    );
    let rowY = y + LEVEL_H;
    for (const s of rows.detail) {
      body.push(serviceRow(s, rowY, axis, analysis));
      rowY += ROW_H;
    }
    if (rows.rest.length > 0) body.push(aggregateRow(rows.level, rows.rest, rowY, axis, analysis));
    body.push('</g>');
    y += height;
  }
  const height = y + 6;
  const width = LABEL_W + CHART_W + 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of run ${escapeHtml(timeline.run)}">` +
    axisMarks(analysis, axis, height) +
    body.join('') +
    '</svg>'
  );
}

function summaryTable(timeline: Timeline, analysis: Analysis): string {
  const origin = analysis.episodes[0]?.start ?? 0;
  const rows = analysis.windows.map(
    (w) =>
      `<tr><td>${w.level}</td><td>${w.kind}</td><td>${escapeHtml(formatTime(w.start))}</td>` +
      `<td class="num">+${shortDuration(w.start - origin)}</td><td class="num">${shortDuration(w.end - w.start)}</td>` +
      `<td class="num">${w.services}</td><td class="num${w.failed > 0 ? ' bad' : ''}">${w.failed}</td>` +
      `<td>${escapeHtml(w.critical)} (${shortDuration(w.criticalMs)})</td></tr>`,
  );
  const total = analysis.waitingMs + analysis.programsMs;
  const share = (ms: number) => (total === 0 ? '' : ` (${Math.round((100 * ms) / total)}%)`);
  const failed = timeline.services.filter(hasFailed).length;
  return (
    '<table class="summary"><thead><tr><th>level</th><th>operation</th><th>started</th><th>at</th><th>wall time</th><th>services</th><th>failed</th><th>slowest service</th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>` +
    '<table class="totals"><tbody>' +
    `<tr><th>wall time (idle gaps left out)</th><td>${shortDuration(analysis.wallMs)}</td></tr>` +
    `<tr><th>waiting for the cloud (launch, running, SSH; summed over services)</th><td>${shortDuration(analysis.waitingMs)}${share(analysis.waitingMs)}</td></tr>` +
    `<tr><th>running programs (boot, ready, terminate; summed over services)</th><td>${shortDuration(analysis.programsMs)}${share(analysis.programsMs)}</td></tr>` +
    `<tr><th>services that failed at some point</th><td>${failed}</td></tr>` +
    '</tbody></table>' +
    `<table class="stages"><thead><tr><th>time by stage</th>${STAGE_KINDS.map((k) => `<th>${escapeHtml(STAGE_NAMES[k])}</th>`).join('')}</tr></thead>` +
    `<tbody><tr><td>summed over services</td>${STAGE_KINDS.map((k) => `<td class="num">${shortDuration(analysis.byStage[k])}</td>`).join('')}</tr></tbody></table>`
  );
}

function legend(): string {
  const items = [
    ...STAGE_KINDS.map(
      (k) => `<span class="key"><i class="${k}"></i>${escapeHtml(STAGE_NAMES[k])}</span>`,
    ),
    '<span class="key"><i class="failed"></i>failed (hover for the message)</span>',
    '<span class="key"><i class="crit"></i>critical path (slowest service of each level)</span>',
  ];
  return `<p class="legend">${items.join('')}</p>`;
}

const STYLE = `
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1d2330;background:#fff}
h1{font-size:18px;margin:0 0 4px}
p.meta{margin:0 0 10px;color:#555}
.legend .key{margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;border-radius:2px}
svg.gantt{display:block;margin:8px 0 16px}
svg text{font:11px system-ui,sans-serif;fill:#1d2330}
text.name{text-anchor:end}
text.level-name{font-weight:600}
text.tick{fill:#777;font-size:10px}
text.episode{fill:#444;font-size:10px}
line.tick{stroke:#eceef2}
line.level-rule{stroke:#c5cad3}
g.window rect{fill:#eef3fb}
g.window.terminate rect{fill:#f4effa}
g.window line{stroke:#8a94a6;stroke-dasharray:3 3}
g.idle rect{fill:#f1f1f1}
g.idle text{fill:#888;font-size:10px;text-anchor:middle}
rect.bar{rx:1.5px}
.launch{fill:#7ea6dc;background:#7ea6dc}
.cloud{fill:#b9c6dd;background:#b9c6dd}
.ssh{fill:#9cb98a;background:#9cb98a}
.boot{fill:#3b7dd8;background:#3b7dd8}
.ready{fill:#3c9a62;background:#3c9a62}
.terminate{fill:#8c6cc0;background:#8c6cc0}
rect.bar.failed,i.failed{fill:#d93b3b;background:#d93b3b}
rect.bar.crit{stroke:#e07b00;stroke-width:2}
i.crit{background:#fff;outline:2px solid #e07b00;outline-offset:-2px}
rect.bar.open{fill-opacity:.5}
rect.bar.agg{fill-opacity:.55}
g.svc.failed text.name{fill:#b02020}
table{border-collapse:collapse;margin:6px 0 14px}
th,td{padding:3px 10px;border-bottom:1px solid #e3e6eb;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#b02020;font-weight:600}
`;

/** The report of `timeline` as a complete HTML document. */
export function renderReport(
  timeline: Timeline,
  meta: { readonly generatedAt: number; readonly plan: string },
): string {
  const analysis = analyse(timeline);
  const states = new Map<string, number>();
  for (const s of timeline.services) states.set(s.state, (states.get(s.state) ?? 0) + 1);
  const stateText = [...states].map(([state, n]) => `${state} ${n}`).join(', ');
  const title = `cloudboot run ${timeline.run}`;
  const empty = analysis.episodes.length === 0;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // Nothing may be fetched: the file must work offline and leak nothing.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${timeline.services.length} services (${escapeHtml(stateText)}); plan ${escapeHtml(meta.plan)}; report made ${escapeHtml(formatTime(meta.generatedAt))}</p>`,
    empty
      ? '<p>Nothing has run yet: no service left <code>pending</code>.</p>'
      : legend() + chart(timeline, analysis),
    empty ? '' : summaryTable(timeline, analysis),
    '</body></html>',
    '',
  ].join('\n');
}
