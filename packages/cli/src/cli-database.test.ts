import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { captureCli, makeFixture } from './test-fixture.js';

describe('unusable run databases', () => {
  it('-d naming a file: every command names it and exits 3', async () => {
    const f = makeFixture();
    const file = f.write('not-a-dir', 'x');
    const expected = `cloudboot: ${file} is not a directory; expected the directory that holds run databases\n`;
    for (const argv of [
      ['boot', f.planFile, '-n', 'a'],
      ['status', 'a'],
      ['list'],
      ['terminate', 'a'],
    ]) {
      const { code, stderr } = await captureCli([...argv, '-d', file], { env: {}, cwd: f.dir });
      expect(stderr).toBe(expected);
      expect(code).toBe(EXIT.run);
    }
    // A directory under a file is no better.
    const under = await captureCli(['boot', f.planFile, '-n', 'a', '-d', join(file, 'db')], {
      env: {},
      cwd: f.dir,
    });
    expect(under.stderr).toBe(
      `cloudboot: ${join(file, 'db')} is not a directory; expected the directory that holds run databases\n`,
    );
    expect(under.code).toBe(EXIT.run);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a corrupt, truncated or foreign database is named, with what is wrong, and exits 3', async () => {
    const f = makeFixture();
    expect((await f.cli(['boot', f.planFile, '-n', 'good', '-q'])).code).toBe(EXIT.ok);
    const path = (run: string) => join(f.dbDir, `cloudboot-${run}.db`);
    writeFileSync(path('garbage'), Buffer.alloc(3000, 0x1b));
    copyFileSync(path('good'), path('truncated'));
    truncateSync(path('truncated'), 4096);
    // An empty file is an SQLite database without tables.
    writeFileSync(path('foreign'), '');
    const unreadable = (run: string, why: string) =>
      `run database ${path(run)} cannot be read (${why}); it is corrupt, truncated or not an SQLite database: restore it or remove it`;
    const messages = {
      garbage: unreadable('garbage', 'file is not a database'),
      truncated: unreadable('truncated', 'database disk image is malformed'),
      foreign: `${path('foreign')} is not a cloudboot run database (no such table: meta); expected a file made by cloudboot`,
    };
    for (const [run, message] of Object.entries(messages)) {
      const before = readFileSync(path(run));
      for (const command of ['status', 'terminate', 'resume', 'history']) {
        const { code, stderr } = await f.cli([command, run]);
        expect(stderr).toBe(`cloudboot: ${message}\n`);
        expect(code).toBe(EXIT.run);
      }
      // Left as it was found, for whoever restores it.
      expect(readFileSync(path(run))).toEqual(before);
    }
    const list = await f.cli(['list']);
    expect(list.code).toBe(EXIT.ok);
    for (const [run, message] of Object.entries(messages)) {
      const line = list.stdout.split('\n').find((l) => l.startsWith(`${run} `));
      expect(line).toMatch(/^\S+ +- +0 +unreadable: /);
      expect(line?.replace(/^.*? unreadable: /, '').replace(/ +-$/, '')).toBe(message);
    }
    expect(list.stdout).toMatch(/^good .* ready 3 /m);
  });
});
