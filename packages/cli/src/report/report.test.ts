import type { ServiceRecord, ServiceState, TransitionRecord } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { analyse, IDLE_GAP_MS } from './report-analysis.js';
import { AGGREGATE_ABOVE, DETAIL_ROWS, escapeHtml, renderReport } from './report-html.js';
import { timelineOf } from './report-timeline.js';

const BOOT: readonly ServiceState[] = [
  'launching',
  'launched',
  'addressed',
  'reachable',
  'contextualizing',
  'contextualized',
  'ready',
];

function record(name: string, level: number, state: ServiceState = 'ready'): ServiceRecord {
  return {
    name,
    level,
    state,
    driver: 'ec2',
    launchToken: null,
    instanceId: null,
    hostname: null,
    contextualized: true,
    published: {},
    machineAttributes: {},
    failure: null,
    updatedAt: 0,
  };
}

/** Transitions of a boot through `states`, starting at `start`, `step` ms apart. */
function walk(
  service: string,
  start: number,
  step: number,
  states: readonly ServiceState[] = BOOT,
  detail: (to: ServiceState) => string | null = () => null,
): TransitionRecord[] {
  let from: ServiceState = 'pending';
  return states.map((to, i) => {
    const t = { service, from, to, at: start + i * step, detail: detail(to) };
    from = to;
    return t;
  });
}

describe('the timeline from recorded transitions', () => {
  it('has one bar per stage; reachable and contextualizing are one boot stage; a failure ends a bar', () => {
    const failing = [...BOOT.slice(0, 5), 'failed'] as const;
    const timeline = timelineOf(
      'r',
      [record('a', 1), record('b', 1, 'failed')],
      [
        ...walk('a', 1000, 100),
        ...walk('b', 1000, 200, failing, (to) =>
          to === 'failed' ? 'contextualize: boot program x exited with status 3' : null,
        ),
      ],
    );
    const [a, b] = timeline.services;
    expect(a?.bars.map((x) => [x.stage, x.start, x.end])).toEqual([
      ['launch', 1000, 1100],
      ['cloud', 1100, 1200],
      ['ssh', 1200, 1300],
      ['boot', 1300, 1500],
      ['ready', 1500, 1600],
    ]);
    expect(b?.bars.at(-1)).toEqual({
      stage: 'boot',
      start: 1600,
      end: 2000,
      failed: true,
      open: false,
      message: 'contextualize: boot program x exited with status 3',
    });
  });

  it('a failed status check is a mark; a stage not finished yet is open', () => {
    const timeline = timelineOf(
      'r',
      [record('a', 1), record('b', 1, 'launched')],
      [
        ...walk('a', 0, 10),
        { service: 'a', from: 'ready', to: 'failed', at: 5000, detail: 'ready: down' },
        ...walk('b', 0, 10, ['launching', 'launched']),
      ],
      9000,
    );
    expect(timeline.services[0]?.failures).toEqual([{ at: 5000, message: 'ready: down' }]);
    expect(timeline.services[1]?.bars.at(-1)).toMatchObject({
      stage: 'cloud',
      end: 9000,
      open: true,
    });
  });
});

describe('analysis', () => {
  it('finds level windows, the critical service of each, idle gaps and where the time went', () => {
    const day = 86_400_000;
    const timeline = timelineOf(
      'r',
      [record('db', 1), record('web-0', 2), record('web-1', 2)],
      [
        ...walk('db', 0, 100), // 0 … 600
        ...walk('web-0', 600, 50), // 600 … 900
        ...walk('web-1', 600, 80), // 600 … 1080
        ...walk('web-0', day, 100, ['terminating', 'terminated']),
        ...walk('web-1', day, 300, ['terminating', 'terminated']),
        ...walk('db', day + 400, 100, ['terminating', 'terminated']),
      ],
    );
    const a = analyse(timeline);
    expect(a.episodes).toEqual([
      { start: 0, end: 1080 },
      { start: day, end: day + 500 },
    ]);
    expect(a.windows.map((w) => [w.level, w.kind, w.end - w.start, w.critical])).toEqual([
      [1, 'boot', 600, 'db'],
      [2, 'boot', 480, 'web-1'],
      [2, 'terminate', 300, 'web-1'],
      [1, 'terminate', 100, 'db'],
    ]);
    expect(a.wallMs).toBe(1580);
    expect(a.waitingMs).toBe(3 * 100 + 3 * 50 + 3 * 80);
    expect(a.programsMs).toBe(300 + 150 + 240 + 100 + 300 + 100);
    expect(a.byStage).toEqual({
      launch: 230,
      cloud: 230,
      ssh: 230,
      boot: 460,
      ready: 230,
      terminate: 500,
    });
    expect(IDLE_GAP_MS).toBeLessThan(day);
  });
});

describe('the HTML report', () => {
  it('escapes everything that comes from the plan or the database', () => {
    const name = 'x"><script>alert(1)</script>';
    const timeline = timelineOf(
      'r&<b>',
      [record(name, 1, 'failed')],
      walk(name, 0, 10, ['launching', 'failed'], () => 'launch: </title><img src=x onerror=1>'),
    );
    const html = renderReport(timeline, { generatedAt: 0, plan: '/p/<top>.conf' });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('data-service="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).toContain('FAILED: launch: &lt;/title&gt;&lt;img src=x onerror=1&gt;</title>');
    expect(html).toContain('<title>cloudboot run r&amp;&lt;b&gt;</title>');
    expect(html).toContain('/p/&lt;top&gt;.conf');
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('aggregates big levels of a 10 000-service run and stays small', () => {
    const services: ServiceRecord[] = [];
    const transitions: TransitionRecord[] = [];
    for (let i = 0; i < 10_000; i++) {
      const name = `svc-${i}`;
      const level = i < 100 ? 1 : 2;
      const failed = i === 5000 || i === 7000;
      services.push(record(name, level, failed ? 'failed' : 'ready'));
      const states = failed ? [...BOOT.slice(0, 5), 'failed' as const] : BOOT;
      const start = level === 1 ? 0 : 60_000;
      transitions.push(...walk(name, start + (i % 97) * 10, 1000 + (i % 1013), states));
    }
    expect(services.length).toBeGreaterThan(AGGREGATE_ABOVE);
    const started = performance.now();
    const html = renderReport(timelineOf('big', services, transitions), {
      generatedAt: 0,
      plan: 'top.conf',
    });
    // Generous: the machine may be busy; a quadratic layout would take minutes.
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(html.length).toBeLessThan(400_000);
    const shown = [...html.matchAll(/<g class="svc( failed)?" data-service="([^"]+)"/g)];
    expect(shown).toHaveLength(2 * DETAIL_ROWS);
    // The failures are always shown, and the slowest services.
    const names = shown.map((m) => m[2]);
    expect(names).toEqual(expect.arrayContaining(['svc-5000', 'svc-7000', 'svc-1012']));
    const aggregates = [
      ...html.matchAll(/<g class="agg" data-level="(\d)" data-services="(\d+)"/g),
    ];
    expect(aggregates.map((m) => [m[1], Number(m[2])])).toEqual([
      ['1', 100 - DETAIL_ROWS],
      ['2', 9900 - DETAIL_ROWS],
    ]);
    expect(html).toContain('+ 9870 more services');
  });
});
