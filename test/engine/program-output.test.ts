/**
 * Output of local programs: streamed to the service log as it comes, never
 * held whole in memory, and each program's share of the log capped (its
 * first and last few MB, with a note of what was left out); the error tail
 * stays exact.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { planDirs, writePlan } from '../support/plan-files.js';

const track = planDirs();
const child = new URL('../support/output-child.ts', import.meta.url).pathname;
const MiB = 1024 * 1024;

interface ChildReport {
  maxRssKiB: number;
  failures: Array<{ message: string; stderrTail: string }>;
}

async function bootPrinting(bytes: number): Promise<{ report: ChildReport; log: string }> {
  const plan = track(
    writePlan({
      'top.conf':
        '[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${ROOT}/work\n[runlevels]\nlevel1: l1.conf\n',
      'l1.conf': '[svc-chatty]\nbootpgm: chatty.sh\n',
      'chatty.sh': `#!/bin/sh\nhead -c ${bytes} /dev/zero | tr '\\0' 'x'\necho 'the end' >&2\nexit 3\n`,
    }),
  );
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', child, plan.path('top.conf'), plan.dbDir, 'out'],
    { cwd: new URL('..', import.meta.url).pathname, maxBuffer: MiB },
  );
  return {
    report: JSON.parse(stdout) as ChildReport,
    log: join(plan.dbDir, 'logs', 'out', 'chatty.log'),
  };
}

describe('a program that prints 80 MB', () => {
  it('costs cloudboot little memory and the log a capped share, with the exact error tail', async () => {
    const quiet = await bootPrinting(0);
    const chatty = await bootPrinting(80 * MiB);
    expect(chatty.report.failures).toEqual([
      {
        message: 'chatty: contextualize failed: boot program chatty.sh exited with status 3',
        stderrTail: 'the end\n',
      },
    ]);
    const extraKiB = chatty.report.maxRssKiB - quiet.report.maxRssKiB;
    // Bounded whatever the size (about 35 MiB of garbage not yet collected); it was 100+ MiB.
    expect(extraKiB).toBeLessThan(50 * 1024);
    const size = statSync(chatty.log).size;
    expect(size).toBeGreaterThan(4 * MiB);
    expect(size).toBeLessThan(4 * MiB + 4096);
    const text = readFileSync(chatty.log, 'latin1');
    expect(text).toContain(
      `[${80 * MiB + 8 - 4 * MiB} bytes of output left out; the last ${2 * MiB} bytes follow]`,
    );
    expect(text).toMatch(/\] bootpgm: exit 3 after \d+ ms\n/);
  });
});
