import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HelperSpawner } from './helper-spawner.js';
import { LocalSession } from './local-session.js';
import { PERL_HELPER } from './perl-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'cloudboot-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/** True while `pid` runs (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)])
      .toString()
      .startsWith('Z');
  } catch {
    return false;
  }
}

/** Without Perl the Perl helper's cases are skipped, except under CI, where setup installs it. */
const withPerl = HelperSpawner.available([PERL_HELPER]) || Boolean(process.env.CI);

describe.each([
  ...(withPerl ? [['through the Perl helper', 'perl', { helper: 'perl' }] as const] : []),
  ['through the /bin/sh helper', 'sh', { helper: 'sh' }],
  ['as direct children', 'direct', { useShell: false }],
] as const)('LocalSession running programs %s', (_label, kind, options) => {
  const session = new LocalSession(options);
  afterAll(() => session.close());

  it('passes argv verbatim, runs in cwd, and returns exit status and output tails', async () => {
    const pgm = script(`args-${kind}.sh`, 'printf "%s|" "$@"; pwd; echo oops >&2; exit 4');
    const chunks: string[] = [];
    const hostile = ['$(touch pwned)', '`touch pwned`', "it's", 'a b', 'line\nbreak', '; rm -rf /'];
    const result = await session.run({
      program: pgm,
      args: hostile,
      cwd: dir,
      timeoutMs: 5000,
      onOutput: (stream, chunk) => chunks.push(`${stream}:${chunk.toString()}`),
    });
    expect(result).toMatchObject({
      exitCode: 4,
      signal: null,
      timedOut: false,
      stderrTail: 'oops\n',
    });
    expect(result.stdoutTail).toBe(`${hostile.join('|')}|${dir}\n`);
    expect(chunks.join('')).toContain('stderr:oops\n');
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('kills the program and its children at the timeout', async () => {
    const pidFile = join(dir, `child-${kind}.pid`);
    const pgm = script(`slow-${kind}.sh`, `sleep 60 & echo $! > ${pidFile}; wait`);
    const started = Date.now();
    const result = await session.run({ program: pgm, args: [], cwd: dir, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result).toMatchObject({ exitCode: null, timedOut: true });
    const child = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(running(child)).toBe(false);
  });

  it('does not wait for a daemon the program leaves behind', async () => {
    const pidFile = join(dir, `daemon-${kind}.pid`);
    const pgm = script(`daemon-${kind}.sh`, `sleep 30 & echo $! > ${pidFile}; echo started`);
    const started = Date.now();
    const result = await session.run({ program: pgm, args: [], cwd: dir, timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result).toMatchObject({ exitCode: 0, stdoutTail: 'started\n' });
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    expect(running(daemon)).toBe(true);
    process.kill(daemon, 'SIGKILL');
  });

  it('reports a program that cannot be started', async () => {
    const result = await session.run({
      program: join(dir, 'missing'),
      args: [],
      cwd: dir,
      timeoutMs: 5000,
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderrTail).toMatch(/missing|No such file/);
  });

  it('reports a working directory it cannot enter, and a program killed by a signal', async () => {
    const missing = join(dir, `no-such-dir-${kind}`);
    const pgm = script(`signalled-${kind}.sh`, 'kill -TERM $$');
    const cd = await session.run({ program: pgm, args: [], cwd: missing, timeoutMs: 5000 });
    expect(cd.exitCode).not.toBe(0);
    expect(cd.stderrTail).toContain(missing);
    const signalled = await session.run({ program: pgm, args: [], cwd: dir, timeoutMs: 5000 });
    // A shell reports 128 + the signal; a direct child reports the signal itself.
    expect(signalled).toMatchObject(
      kind === 'direct' ? { exitCode: null, signal: 'SIGTERM' } : { exitCode: 143, signal: null },
    );
  });

  it('runs the program as the leader of a process group of its own, and says which', async () => {
    const pgm = script(`group-${kind}.sh`, 'echo "$$ $(ps -o pgid= -p $$)"');
    let told: number | undefined;
    const result = await session.run({
      program: pgm,
      args: [],
      cwd: dir,
      timeoutMs: 5000,
      onStart: (pgid) => {
        told = pgid;
      },
    });
    const [pid, pgid] = result.stdoutTail.trim().split(/\s+/).map(Number);
    expect(pgid).toBe(pid);
    expect(told).toBe(pid);
    expect(pgid).not.toBe(process.pid);
  });

  it('adds the variables it is given to the environment, verbatim', async () => {
    const pgm = script(`env-${kind}.sh`, 'printf "%s|" "$CLOUDBOOT_T" "$HOME"');
    const value = 'a b=\'c\' "d" $(e)\nf=g';
    const result = await session.run({
      program: pgm,
      args: [],
      cwd: dir,
      timeoutMs: 5000,
      env: { CLOUDBOOT_T: value },
    });
    expect(result).toMatchObject({ exitCode: 0, stdoutTail: `${value}|${process.env.HOME}|` });
  });

  it('stops a program when aborted, without calling it a timeout', async () => {
    const pgm = script(`abort-${kind}.sh`, 'sleep 60');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await session.run({
      program: pgm,
      args: [],
      cwd: dir,
      timeoutMs: 30_000,
      signal: controller.signal,
    });
    expect(result).toMatchObject({ exitCode: null, timedOut: false });
  });
});

describe('claiming a working directory', () => {
  const session = new LocalSession();
  afterAll(() => session.close());
  const claim = (last: string, mark = 'run 0123abcd') =>
    session.prepareDir({
      base: dir,
      chain: [join(dir, 'claims'), join(dir, 'claims', last)],
      markFile: '.cloudboot-run',
      mark,
    });

  it('takes back a directory whose only entry is its mark, cut short by a crash', async () => {
    expect(await claim('cut')).toEqual({ ok: true, existed: false });
    const mark = join(dir, 'claims', 'cut', '.cloudboot-run');
    for (const half of ['', 'run 0123']) {
      writeFileSync(mark, half);
      expect(await claim('cut')).toEqual({ ok: true, existed: false });
      expect(readFileSync(mark, 'utf8')).toBe('run 0123abcd\n');
    }
    expect(await claim('cut')).toEqual({ ok: true, existed: true });
    // A mark that is a symbolic link to such a prefix is replaced, not written through.
    const victim = join(dir, 'half-mark-victim');
    writeFileSync(victim, 'run 0123', { mode: 0o644 });
    rmSync(mark);
    symlinkSync(victim, mark);
    expect(await claim('cut')).toEqual({ ok: true, existed: false });
    expect(readFileSync(victim, 'utf8')).toBe('run 0123');
    expect(lstatSync(mark).isFile()).toBe(true);
    expect(lstatSync(mark).mode & 0o777).toBe(0o600);
  });

  it('refuses a directory with another mark, or with the mark and anything else', async () => {
    expect(await claim('other', 'run ffff')).toEqual({ ok: true, existed: false });
    const taken = { ok: false, reason: 'taken', inBase: false, path: join(dir, 'claims', 'other') };
    expect(await claim('other')).toEqual(taken);
    writeFileSync(join(dir, 'claims', 'other', '.cloudboot-run'), 'run 0123');
    writeFileSync(join(dir, 'claims', 'other', 'data'), 'keep');
    expect(await claim('other')).toEqual(taken);
    expect(readFileSync(join(dir, 'claims', 'other', 'data'), 'utf8')).toBe('keep');
  });

  it('replaces a symbolic link where it rewrites a file, and never writes through it', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep', { mode: 0o644 });
    expect(await claim('links')).toEqual({ ok: true, existed: false });
    const work = join(dir, 'claims', 'links');
    // What a program of the run could leave in its own directory.
    symlinkSync(victim, join(work, 'bootconf.json'));
    symlinkSync(victim, join(work, 'pgm.sh'));
    const files = [{ name: 'bootconf.json', data: '{}', mode: 0o600 }];
    expect(
      await session.prepareDir({
        base: dir,
        chain: [join(dir, 'claims'), work],
        markFile: '.cloudboot-run',
        mark: 'run 0123abcd',
        files,
      }),
    ).toEqual({ ok: true, existed: true });
    /** Uploads `pgm.sh` printing `word` with the run, and runs it. */
    const installAndRun = (word: string) =>
      session.run({
        program: join(work, 'pgm.sh'),
        install: { data: Buffer.from(`#!/bin/sh\necho ${word}\n`), mode: 0o700 },
        args: [],
        cwd: work,
        timeoutMs: 10_000,
      });
    expect(await installAndRun('installed')).toMatchObject({
      exitCode: 0,
      stdoutTail: 'installed\n',
    });
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect(lstatSync(victim).mode & 0o777).toBe(0o644);
    for (const [name, mode] of [
      ['bootconf.json', 0o600],
      ['pgm.sh', 0o700],
    ] as const) {
      const found = lstatSync(join(work, name));
      expect(found.isFile()).toBe(true);
      expect(found.mode & 0o777).toBe(mode);
    }
    // An existing regular file is rewritten in place, its mode set again.
    writeFileSync(join(work, 'pgm.sh'), 'old', { mode: 0o644 });
    expect(await installAndRun('again')).toMatchObject({ exitCode: 0, stdoutTail: 'again\n' });
    expect(lstatSync(join(work, 'pgm.sh')).mode & 0o777).toBe(0o700);
  });
});

describe('reading a file a program left', () => {
  const session = new LocalSession();
  afterAll(() => session.close());

  it('reads a regular file, says nothing of a missing one, and refuses a FIFO rather than block', async () => {
    const file = join(dir, 'bootout.json');
    writeFileSync(file, '{"a": 1}');
    expect((await session.readFile(file))?.toString()).toBe('{"a": 1}');
    expect(await session.readFile(join(dir, 'none.json'))).toBeUndefined();
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    await expect(session.readFile(fifo)).rejects.toThrow(`${fifo} is not a regular file`);
  });
});
