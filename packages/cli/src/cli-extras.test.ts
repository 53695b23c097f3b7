import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { captureCli, makeFixture } from './test-fixture.js';

const io = { env: {}, cwd: '/' };
const version = (pkg: string) =>
  (JSON.parse(readFileSync(new URL(pkg, import.meta.url), 'utf8')) as { version: string }).version;

describe('--version', () => {
  it('prints the versions of the CLI and of core, with or without a command', async () => {
    const expected = `cloudboot ${version('../package.json')}\n@cloudboot/core ${version('../../core/package.json')}\n`;
    for (const argv of [['--version'], ['-V'], ['status', '-V']]) {
      expect(await captureCli(argv, io)).toEqual({ code: EXIT.ok, stdout: expected, stderr: '' });
    }
  });
});

describe('completion', () => {
  it('prints a script for each shell naming every command and the options of each', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const { code, stdout } = await captureCli(['completion', shell], io);
      expect(code).toBe(EXIT.ok);
      for (const word of ['boot', 'report', 'completion', 'runs', 'watch', 'dash-nine']) {
        expect(stdout).toContain(word);
      }
    }
    const fish = (await captureCli(['completion', 'fish'], io)).stdout;
    expect(fish).toContain(
      "complete -c cloudboot -n '__fish_seen_subcommand_from status' -a '(__cloudboot_runs)'",
    );
    expect(fish).toContain(
      "complete -c cloudboot -n '__fish_seen_subcommand_from boot' -s d -l dbdir -r -a '(__fish_complete_directories)'",
    );
    const zsh = (await captureCli(['completion', 'zsh'], io)).stdout;
    expect(zsh.startsWith('#compdef cloudboot\n')).toBe(true);
    expect(zsh).toContain("'report:write an HTML timeline of the run");
  });

  it('refuses an unknown shell (exit 2)', async () => {
    const { code, stderr } = await captureCli(['completion', 'tcsh'], io);
    expect(code).toBe(EXIT.usage);
    expect(stderr).toBe(
      'cloudboot: completion needs a shell: cloudboot completion bash|zsh|fish (got "tcsh")\n',
    );
  });
});

describe('status --watch', () => {
  it('takes an optional number of seconds and refuses a bad one', async () => {
    const bad = await captureCli(['status', 'x', '--watch=0'], io);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toBe(
      'cloudboot: --watch is "0"; expected a number of seconds of at least 0.1\n',
    );
    const other = await captureCli(['list', '--watch'], io);
    expect(other.code).toBe(EXIT.usage);
    expect(other.stderr).toContain('--watch cannot be used with "list"');
  });
});

describe('report', () => {
  it('writes ./cloudboot-report-NAME.html (0600) by default; a missing run exits 3', async () => {
    const f = makeFixture();
    expect((await f.cli(['boot', f.planFile, '-n', 'rep', '-q'])).code).toBe(EXIT.ok);
    const { code, stdout } = await f.cli(['report', 'rep']);
    const file = join(f.dir, 'cloudboot-report-rep.html');
    expect(code).toBe(EXIT.ok);
    expect(stdout).toBe(`report of run rep (3 services): ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const html = readFileSync(file, 'utf8');
    expect(html.match(/<g class="svc" data-service="/g)).toHaveLength(3);
    const json = await f.cli(['report', '-n', 'rep', '-o', 'r.html', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      type: 'result',
      command: 'report',
      ok: true,
      run: 'rep',
      file: join(f.dir, 'r.html'),
      services: 3,
    });
    const missing = await f.cli(['report', 'nope']);
    expect(missing.code).toBe(EXIT.run);
    expect(missing.stderr).toMatch(/^cloudboot: .*nope/);
  });
});
