import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from 'cloudboot';
import { afterEach, describe, expect, it } from 'vitest';
import { type PlanDir, writePlan } from '../support/plan-files.js';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.reverse()) c();
  cleanups = [];
});

async function cli(plan: PlanDir, argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await runCli([...argv, '-d', plan.dbDir], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: () => true },
    env: {},
    cwd: plan.root,
  });
  return { code, stdout };
}

/** Processes whose command line mentions `text`. */
function processesWith(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Runs headless Chromium with a private profile, HOME and TMPDIR, and waits until all its processes are gone. */
async function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const home = mkdtempSync(join(tmpdir(), 'cloudboot-chromium-'));
  try {
    const env = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: home,
      XDG_CACHE_HOME: home,
      TMPDIR: home,
    };
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-crash-reporter',
      '--enable-logging=stderr',
      '--v=0',
      `--user-data-dir=${join(home, 'profile')}`,
    ];
    const result = await run(CHROMIUM, [...flags, ...args], {
      env,
      timeout: 60_000,
      maxBuffer: 32 << 20,
    });
    const deadline = Date.now() + 10_000;
    while (processesWith(home).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(processesWith(home)).toEqual([]);
    return result;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Lines of Chromium's log that say the page had a problem (console errors, blocked loads, network errors). */
const pageErrors = (log: string) =>
  log.split('\n').filter((l) => /CONSOLE|Refused to|net::ERR|Uncaught/.test(l));

describe('cloudboot report in a real browser', () => {
  it('renders a Gantt chart with one bar group per service, the failure in red, and a summary', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh`);
      ctx.skip(`${CHROMIUM} is not installed (scripts/setup.sh installs it as root)`);
    }
    const plan = writePlan({
      'top.conf':
        '[runlevels]\nlevel1: l1.conf\nlevel2: l2.conf\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${WORKDIR}\nterminatepgm: pause.sh\nterminatepgm_args: 0.1\n',
      'l1.conf':
        '[svc-db]\nbootpgm: pause.sh\nbootpgm_args: 0.3\nreadypgm: pause.sh\nreadypgm_args: 0.1\n',
      'l2.conf': '[svc-web]\nreplica_count: 3\nbootpgm: boot.sh\nbootpgm_args: ${.service}\n',
      'pause.sh': '#!/bin/sh\nsleep "$1"\n',
      'boot.sh':
        '#!/bin/sh\nsleep 0.2\nif [ "$1" = web-2 ]; then echo "disk full" >&2; exit 3; fi\n',
    });
    cleanups.push(() => plan.remove());
    expect((await cli(plan, ['boot', 'top.conf', '-n', 'gantt', '-q'])).code).toBe(1);
    expect((await cli(plan, ['terminate', 'gantt', '-q'])).code).toBe(0);
    const report = await cli(plan, ['report', 'gantt', '-o', 'report.html']);
    expect(report.code).toBe(0);
    const file = plan.path('report.html');
    expect(report.stdout).toBe(`report of run gantt (4 services): ${file}\n`);
    const html = readFileSync(file, 'utf8');
    // Self-contained: nothing to load, nothing to run.
    expect(html).not.toMatch(/\s(src|href)=|<script|<link|@import|url\(/i);

    const dom = await chromium(['--dump-dom', `file://${file}`]);
    expect(pageErrors(dom.stderr)).toEqual([]);
    const page = dom.stdout;
    expect(page).toContain('<title>cloudboot run gantt</title>');
    // The browser's DOM holds what the file says: one group per service, every bar.
    const groups = [...page.matchAll(/<g class="svc( failed)?" data-service="([^"]+)"/g)];
    expect(groups.map((g) => g[2])).toEqual(['db', 'web-0', 'web-1', 'web-2']);
    expect(groups.map((g) => g[1] !== undefined)).toEqual([false, false, false, true]);
    const bars = (text: string) => (text.match(/<rect class="bar /g) ?? []).length;
    expect(bars(page)).toBe(bars(html));
    const web2 = page.slice(page.indexOf('data-service="web-2"'));
    expect(web2.slice(0, web2.indexOf('</g>'))).toMatch(
      /<rect class="bar failed[^>]*data-stage="boot"><title>web-2: boot program [^<]*FAILED: contextualize: boot program boot.sh exited with status 3<\/title>/,
    );
    // Every service has a boot and a terminate stage; db also its ready program.
    const db = page.slice(page.indexOf('data-service="db"'));
    const dbStages = [...db.slice(0, db.indexOf('</g>')).matchAll(/data-stage="(\w+)"/g)].map(
      (m) => m[1],
    );
    expect(dbStages).toEqual(['launch', 'cloud', 'ssh', 'boot', 'ready', 'terminate']);
    // The critical path: db in level 1.
    expect(db.slice(0, db.indexOf('</g>'))).toContain('class="bar boot crit"');
    expect(page).toMatch(/<tr><td>1<\/td><td>boot<\/td>.*<td>db \(/);
    expect(page).toMatch(/<tr><td>2<\/td><td>boot<\/td>(.(?!<\/tr>))*<td class="num bad">1<\/td>/);
    expect(page).toMatch(/<tr><td>2<\/td><td>terminate<\/td>/);

    const png = join(plan.root, 'report.png');
    const shot = await chromium([
      '--hide-scrollbars',
      '--window-size=1300,700',
      `--screenshot=${png}`,
      `file://${file}`,
    ]);
    expect(pageErrors(shot.stderr)).toEqual([]);
    const image = readFileSync(png);
    expect(image.subarray(1, 4).toString()).toBe('PNG');
    expect(image.length).toBeGreaterThan(10_000);
  });
});
