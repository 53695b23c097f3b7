import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELPERS, type HelperDialect, HelperSpawner } from './helper-spawner.js';
import { PERL_HELPER } from './perl-helper.js';
import { SH_HELPER } from './sh-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'cloudboot-helper-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pgm = join(dir, 'pgm.sh');
writeFileSync(pgm, '#!/bin/sh\necho "ran $1 in $(pwd)"\n', { mode: 0o755 });
const run = (spawner: HelperSpawner, arg: string) =>
  spawner.run({ program: pgm, args: [arg], cwd: dir, timeoutMs: 10_000 });

/** Setup installs Perl under CI; elsewhere a machine without it skips the Perl helper's cases. */
const withPerl = HelperSpawner.available([PERL_HELPER]) || Boolean(process.env.CI);
const DIALECTS = withPerl ? [PERL_HELPER, SH_HELPER] : [SH_HELPER];

describe('HelperSpawner', () => {
  it('prefers the Perl helper where Perl is installed', () => {
    const spawner = new HelperSpawner();
    expect(spawner.dialect).toBe(withPerl ? 'perl' : 'sh');
    expect(HELPERS.map((h) => h.name)).toEqual(['perl', 'sh']);
  });

  it('hands every job to the next helper when the first exits before it is ready', async () => {
    // A Perl that cannot start its helper (a missing module, a broken PERL5OPT).
    const broken: HelperDialect = { ...PERL_HELPER, command: ['perl', '-e', 'exit 2'] };
    const spawner = new HelperSpawner([broken, SH_HELPER]);
    try {
      const results = await Promise.all(['a', 'b', 'c'].map((arg) => run(spawner, arg)));
      expect(results.map((r) => [r.exitCode, r.stdoutTail])).toEqual(
        ['a', 'b', 'c'].map((arg) => [0, `ran ${arg} in ${dir}\n`]),
      );
      expect(spawner.dialect).toBe('sh');
      expect(await run(spawner, 'd')).toMatchObject({
        exitCode: 0,
        stdoutTail: `ran d in ${dir}\n`,
      });
    } finally {
      spawner.close();
    }
  });

  it('fails the job, not the helper, when no helper is left', async () => {
    const broken: HelperDialect = { ...PERL_HELPER, command: ['perl', '-e', 'exit 2'] };
    const spawner = new HelperSpawner([broken]);
    try {
      expect(await run(spawner, 'a')).toMatchObject({
        exitCode: null,
        stderrTail: 'cloudboot: no helper to run local programs could be started\n',
      });
    } finally {
      spawner.close();
    }
  });

  it.each(DIALECTS)(
    '$name: refuses a NUL byte, and runs the jobs after it as given',
    async (dialect) => {
      const spawner = new HelperSpawner([dialect]);
      try {
        const [bad, good] = await Promise.all([run(spawner, 'x\0y'), run(spawner, 'z')]);
        expect(bad).toMatchObject({
          exitCode: 127,
          stderrTail:
            'cloudboot: the program, its arguments or its environment contain a NUL byte\n',
        });
        expect(good).toMatchObject({ exitCode: 0, stdoutTail: `ran z in ${dir}\n` });
      } finally {
        spawner.close();
      }
    },
  );

  it.each(DIALECTS)(
    '$name: reports each program as it ends, not in the order they started',
    async (dialect) => {
      const spawner = new HelperSpawner([dialect]);
      const order: string[] = [];
      try {
        await Promise.all(
          [
            ['slow', 'sleep 1'],
            ['fast', 'true'],
          ].map(([name, body]) =>
            spawner
              .run({ program: '/bin/sh', args: ['-c', body ?? ''], cwd: dir, timeoutMs: 10_000 })
              .then(() => order.push(name ?? '')),
          ),
        );
        expect(order).toEqual(['fast', 'slow']);
      } finally {
        spawner.close();
      }
    },
  );
});
