/**
 * The tests of a MachineSession over SSH against a real sshd: files over
 * SFTP, helper commands, programs with output, timeouts that really kill,
 * and argv words that reach the program verbatim. Run once through the
 * long-lived remote shell and once with one exec channel per step.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError } from '../../packages/core/src/errors.js';
import { type MachineSession, OUTPUT_TAIL_BYTES } from '../../packages/core/src/exec/machine.js';
import { MemoryHostKeyStore, SshPool } from '../../packages/core/src/exec/ssh-pool.js';
import { type SshHosts, startSshHosts } from '../harness/sshd.js';
import { isRunning, labelOf, makeDir, targetOf } from './targets.js';

/** Every test of a session, with the remote shell on or off. */
export function sessionSuite(remoteShell: boolean): void {
  let hosts: SshHosts;
  let pool: SshPool;
  let session: MachineSession;
  /** A fresh directory on the machine for this file's tests. */
  let base: string;

  beforeAll(async () => {
    hosts = await startSshHosts({ count: 1 });
    pool = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '', remoteShell });
    session = await pool.session(targetOf(hosts, 0), { timeoutMs: 5_000 });
    base = `/tmp/cloudboot-ssh-session-${randomUUID()}`;
    await makeDir(session, base);
  });

  afterAll(async () => {
    await session?.removeDir(base);
    await pool?.close();
    await hosts?.stop();
  });

  /** Runs `sh -c script` in `base`. */
  function sh(script: string, timeoutMs = 5_000) {
    return session.run({ program: 'sh', args: ['-c', script], cwd: base, timeoutMs });
  }

  /** The pids a program wrote into file `name` of `base`. */
  async function pidsOf(name: string): Promise<number[]> {
    const text = (await session.readFile(`${base}/${name}`))?.toString() ?? '';
    return text.trim().split(/\s+/).map(Number);
  }

  it("knows the login user's home directory", async () => {
    const home = (await sh('cd && pwd')).stdoutTail;
    expect(home).toMatch(/^\/.+\n$/);
    expect(await session.homeDir()).toBe(home.slice(0, -1));
  });

  describe('claiming a working directory', () => {
    it('takes back its directory whose mark a crash cut short, and refuses one with another mark', async () => {
      const claim = (last: string, mark = 'run 0123abcd') =>
        session.prepareDir({
          base,
          chain: [`${base}/claims`, `${base}/claims/${last}`],
          markFile: '.cloudboot-run',
          mark,
        });
      expect(await claim('cut')).toEqual({ ok: true, existed: false });
      for (const half of ['', 'run 0123']) {
        await session.writeFile(`${base}/claims/cut/.cloudboot-run`, half, 0o600);
        expect(await claim('cut')).toEqual({ ok: true, existed: false });
        const mark = await session.readFile(`${base}/claims/cut/.cloudboot-run`);
        expect(mark?.toString()).toBe('run 0123abcd\n');
      }
      expect(await claim('cut')).toEqual({ ok: true, existed: true });
      expect(await claim('other', 'run ffff')).toEqual({ ok: true, existed: false });
      expect(await claim('other')).toEqual({
        ok: false,
        reason: 'taken',
        inBase: false,
        path: `${base}/claims/other`,
      });
    });
  });

  describe('preparing a working directory in one request', () => {
    const prepare = (last: string, files: Parameters<MachineSession['prepareDir']>[0]['files']) =>
      session.prepareDir({
        base,
        chain: [`${base}/prep`, `${base}/prep/${last}`],
        markFile: '.cloudboot-run',
        mark: 'run 0123abcd',
        stale: ['bootout.json'],
        files,
      });

    it('replaces a symbolic link where it writes a file, and never writes through it', async () => {
      expect(await prepare('links', [])).toEqual({ ok: true, existed: false });
      const dir = `${base}/prep/links`;
      // What a program of the run could leave in its own directory.
      const names = ['bootconf.json', 'big.txt', 'direct.txt', 'pgm.sh'];
      const plant = names.map((n) => `ln -s "$PWD/victim.txt" prep/links/${n}`).join('; ');
      await sh(`printf keep > victim.txt; chmod 644 victim.txt; ${plant}`);
      const files = [
        { name: 'bootconf.json', data: '{}', mode: 0o600 },
        { name: 'big.txt', data: 'x'.repeat(300 * 1024), mode: 0o640 },
      ];
      expect(await prepare('links', files)).toEqual({ ok: true, existed: true });
      await session.writeFile(`${dir}/direct.txt`, 'direct', 0o600);
      const result = await session.run({
        program: `${dir}/pgm.sh`,
        install: { data: Buffer.from('#!/bin/sh\necho installed\n'), mode: 0o700 },
        args: [],
        cwd: dir,
        timeoutMs: 5_000,
      });
      expect(result).toMatchObject({ exitCode: 0, stdoutTail: 'installed\n' });
      expect((await sh('cat victim.txt; echo; stat -c %a victim.txt')).stdoutTail).toBe(
        'keep\n644\n',
      );
      const kinds = `cd prep/links && stat -c '%n %F %a' ${names.join(' ')}`;
      expect((await sh(kinds)).stdoutTail).toBe(
        'bootconf.json regular file 600\nbig.txt regular file 640\n' +
          'direct.txt regular file 600\npgm.sh regular file 700\n',
      );
    });

    it('claims, writes every file with its exact mode, and removes stale files only when it existed', async () => {
      const hostile = `'"; touch ${base}/pwned; echo '\\'\n$(touch ${base}/pwned)\n`;
      const big = 'x'.repeat(300 * 1024);
      const files = [
        { name: 'bootconf.json', data: hostile, mode: 0o600 },
        { name: 'bin', data: new Uint8Array([0, 39, 10, 255]), mode: 0o700 },
        { name: 'big.txt', data: big, mode: 0o640 },
      ];
      expect(await prepare('svc', files)).toEqual({ ok: true, existed: false });
      const dir = `${base}/prep/svc`;
      expect((await session.readFile(`${dir}/bootconf.json`))?.toString()).toBe(hostile);
      expect(await session.readFile(`${base}/pwned`)).toBeUndefined();
      expect(await session.readFile(`${dir}/bin`)).toEqual(Buffer.from([0, 39, 10, 255]));
      expect((await session.readFile(`${dir}/big.txt`))?.length).toBe(big.length);
      const modes = 'stat -c %a prep/svc/bootconf.json prep/svc/bin prep/svc/big.txt';
      expect((await sh(modes)).stdoutTail).toBe('600\n700\n640\n');
      expect((await sh('ls -A prep/svc')).stdoutTail).toBe(
        '.cloudboot-run\nbig.txt\nbin\nbootconf.json\n',
      );

      // Taken back: the stale file goes, the files are replaced and get their modes again.
      await sh('echo "{}" > prep/svc/bootout.json; chmod 644 prep/svc/bootconf.json');
      expect(await prepare('svc', [{ name: 'bootconf.json', data: 'v2', mode: 0o600 }])).toEqual({
        ok: true,
        existed: true,
      });
      expect((await session.readFile(`${dir}/bootconf.json`))?.toString()).toBe('v2');
      expect(await session.readFile(`${dir}/bootout.json`)).toBeUndefined();
      expect((await sh('stat -c %a prep/svc/bootconf.json')).stdoutTail).toBe('600\n');
    });

    it('writes nothing into a directory it refuses', async () => {
      await sh('mkdir -p prep/theirs && echo data > prep/theirs/bootout.json');
      expect(await prepare('theirs', [{ name: 'bootconf.json', data: '{}', mode: 0o600 }])).toEqual(
        { ok: false, reason: 'taken', inBase: false, path: `${base}/prep/theirs` },
      );
      expect((await sh('ls -A prep/theirs')).stdoutTail).toBe('bootout.json\n');
    });

    it('uploads a program with its start, replacing the file and its mode', async () => {
      const dir = `${base}/prep/svc`;
      await sh('printf old > prep/svc/run.sh; chmod 644 prep/svc/run.sh');
      const result = await session.run({
        program: `${dir}/run.sh`,
        args: ['a b'],
        cwd: dir,
        timeoutMs: 5_000,
        install: { data: Buffer.from(`#!/bin/sh\necho "$1" '${'$'}{x}'\n`), mode: 0o700 },
      });
      expect(result).toMatchObject({ exitCode: 0, stdoutTail: `a b \${x}\n` });
      expect((await sh('stat -c %a prep/svc/run.sh')).stdoutTail).toBe('700\n');
    });

    it('removes a directory and its parent once that is empty, and only then', async () => {
      await sh('mkdir -p rm/a rm/b');
      await session.removeDir(`${base}/rm/a`, `${base}/rm`);
      expect((await sh('ls -A rm')).stdoutTail).toBe('b\n');
      await session.removeDir(`${base}/rm/b`, `${base}/rm`);
      expect((await sh('ls -A . | grep -c "^rm$"')).stdoutTail).toBe('0\n');
    });
  });

  describe("removing a directory only when it is this run's", () => {
    const remove = (dir: string, mark = 'run 1') =>
      session.removeOwnedDir(`${base}/own/${dir}`, '.cloudboot-run', mark, `${base}/own`);

    it('removes its own directory, then the parent once empty, in one request', async () => {
      await sh(
        'mkdir -p own/a/sub own/b own/c && echo "run 1" > own/a/.cloudboot-run && ' +
          'echo "run 2" > own/b/.cloudboot-run && echo "run 1" > own/c/.cloudboot-run && ' +
          'ln -s c own/link',
      );
      const roundTrips = pool.roundTrips;
      expect(await remove('a')).toBe(true);
      expect(pool.roundTrips - roundTrips).toBe(1);
      // Another mark, a symbolic link to an owned directory, a directory that is gone.
      expect(await remove('b')).toBe(false);
      expect(await remove('link')).toBe(false);
      expect(await remove('a')).toBe(false);
      expect((await sh('ls -A own')).stdoutTail).toBe('b\nc\nlink\n');
      await sh('rm -r own/b own/link');
      expect(await remove('c')).toBe(true);
      expect((await sh('ls -A . | grep -c "^own$"')).stdoutTail).toBe('0\n');
    });

    it('says why rm failed, with its stderr', async () => {
      // rm refuses to remove a path ending in `..`, whatever the user may do.
      await sh('mkdir -p own/d/sub && echo "run 1" > own/d/.cloudboot-run');
      const error = await remove('d/sub/..').then(
        () => undefined,
        (e: unknown) => e as RemoteError,
      );
      expect(error).toBeInstanceOf(RemoteError);
      expect(error?.message).toBe(
        `${labelOf(hosts, 0)}: command: rm -rf -- ${base}/own/d/sub/.. failed (exit status 1): ` +
          `rm: refusing to remove '.' or '..' directory: skipping '${base}/own/d/sub/..'`,
      );
      expect(error?.permanent).toBe(true);
      expect((await sh('ls -A own/d')).stdoutTail).toBe('.cloudboot-run\nsub\n');
    });
  });

  describe('files', () => {
    it('uploads, reads back, runs and removes', async () => {
      const dir = `${base}/svc one/nested`;
      await makeDir(session, dir);
      await session.writeFile(
        `${dir}/boot.sh`,
        '#!/bin/sh\necho "boot $1"\necho warn >&2\nexit 3\n',
        0o750,
      );
      await session.writeFile(`${dir}/data.bin`, new Uint8Array([0, 1, 2, 255]), 0o600);
      expect((await session.readFile(`${dir}/boot.sh`))?.toString()).toContain('echo "boot $1"');
      expect(await session.readFile(`${dir}/data.bin`)).toEqual(Buffer.from([0, 1, 2, 255]));
      expect(await session.readFile(`${dir}/missing.json`)).toBeUndefined();

      const chunks: string[] = [];
      const result = await session.run({
        program: './boot.sh',
        args: ['now'],
        cwd: dir,
        timeoutMs: 5_000,
        onOutput: (stream, chunk) => chunks.push(`${stream}:${chunk.toString()}`),
      });
      expect(result).toMatchObject({
        exitCode: 3,
        signal: null,
        timedOut: false,
        stdoutTail: 'boot now\n',
        stderrTail: 'warn\n',
      });
      expect(chunks.sort()).toEqual(['stderr:warn\n', 'stdout:boot now\n']);

      const modes = await sh(`stat -c %a "svc one/nested/boot.sh" "svc one/nested/data.bin"`);
      expect(modes.stdoutTail).toBe('750\n600\n');

      await session.removeDir(`${base}/svc one`);
      await session.removeDir(`${base}/svc one`);
      expect(await session.readFile(`${dir}/boot.sh`)).toBeUndefined();
    });

    it('replaces an existing file and sets its mode', async () => {
      const path = `${base}/replaced.txt`;
      await session.writeFile(path, 'first version, longer', 0o644);
      await session.writeFile(path, 'second', 0o755);
      expect((await session.readFile(path))?.toString()).toBe('second');
      expect((await sh('stat -c %a replaced.txt')).stdoutTail).toBe('755\n');
    });

    it('reports a failing helper command with its stderr', async () => {
      // rm refuses to remove a path ending in `..`, whatever the user may do.
      await makeDir(session, `${base}/kept`);
      const error = await session.removeDir(`${base}/kept/..`).then(
        () => undefined,
        (e: unknown) => e as RemoteError,
      );
      expect(error).toBeInstanceOf(RemoteError);
      expect(error?.message).toBe(
        `${labelOf(hosts, 0)}: command: rm -rf -- ${base}/kept/.. failed (exit status 1): ` +
          `rm: refusing to remove '.' or '..' directory: skipping '${base}/kept/..'`,
      );
      expect((await sh('test -d kept && echo kept')).stdoutTail).toBe('kept\n');
    });
  });

  describe('programs', () => {
    it('passes hostile argv words verbatim and executes nothing', async () => {
      const marker = `${base}/pwned`;
      const words = [
        `$(touch ${marker})`,
        `\`touch ${marker}\``,
        `; touch ${marker}`,
        `' ; touch ${marker} ; '`,
        `" ; touch ${marker} ; "`,
        `line one\ntouch ${marker}\n`,
        '*',
        '$HOME',
        '',
        '-n',
        '\\',
        '&& | > < &',
      ];
      const cwd = `${base}/dir with 'quotes' and $(touch ${marker})`;
      await makeDir(session, cwd);
      const result = await session.run({
        program: 'printf',
        args: ['%s\\0', ...words],
        cwd,
        timeoutMs: 5_000,
      });
      expect(result.exitCode).toBe(0);
      expect(result.stdoutTail.split('\0').slice(0, -1)).toEqual(words);
      const pwd = await session.run({ program: 'pwd', args: [], cwd, timeoutMs: 5_000 });
      expect(pwd.stdoutTail).toBe(`${cwd}\n`);
      expect(await session.readFile(marker)).toBeUndefined();
    });

    it('runs a program whose path needs quoting', async () => {
      const dir = `${base}/a dir`;
      await makeDir(session, dir);
      await session.writeFile(`${dir}/my prog.sh`, '#!/bin/sh\necho "$#:$1"\n', 0o755);
      const result = await session.run({
        program: `${dir}/my prog.sh`,
        args: ['x y'],
        cwd: '/',
        timeoutMs: 5_000,
      });
      expect(result.stdoutTail).toBe('1:x y\n');
    });

    it('reports a missing working directory as a failed run', async () => {
      const result = await session.run({
        program: 'true',
        args: [],
        cwd: `${base}/nowhere`,
        timeoutMs: 5_000,
      });
      expect(result.exitCode).not.toBe(0);
      expect(result.stderrTail).toContain('nowhere');
    });

    it('keeps only the tail of long output but streams all of it', async () => {
      let streamed = 0;
      const result = await session.run({
        program: 'sh',
        args: ['-c', 'head -c 100000 /dev/zero | tr "\\0" a; echo; echo end'],
        cwd: base,
        timeoutMs: 5_000,
        onOutput: (_stream, chunk) => {
          streamed += chunk.length;
        },
      });
      expect(streamed).toBe(100_005);
      expect(result.stdoutTail.length).toBe(OUTPUT_TAIL_BYTES);
      expect(result.stdoutTail.endsWith('aaa\nend\n')).toBe(true);
    });

    it('reads no output file of a silent program once it ended, and all of a program that spoke', async () => {
      const before = pool.outputReads;
      const silent = await sh('sleep 1.2');
      expect(silent).toMatchObject({ exitCode: 0, stdoutTail: '', stderrTail: '' });
      if (remoteShell) {
        // Per stream and poll (every 500 ms while it runs): the first opens and
        // reads, the others read. Nothing is read after the end.
        const polls = Math.floor(silent.durationMs / 500);
        expect(pool.outputReads - before).toBeLessThanOrEqual(2 * (1 + polls));
      }
      const spoke = await sh('echo out; sleep 0.7; echo more; echo err >&2');
      expect(spoke).toMatchObject({ exitCode: 0, stdoutTail: 'out\nmore\n', stderrTail: 'err\n' });
    });

    it('does not wait for a background process that keeps stdout open', async () => {
      const started = Date.now();
      const result = await sh('sleep 30 & echo $! > daemon.pids; echo started', 20_000);
      expect(result).toMatchObject({ exitCode: 0, timedOut: false, stdoutTail: 'started\n' });
      // Far from the daemon's 30 s, however loaded the machine is.
      expect(Date.now() - started).toBeLessThan(10_000);
      const [daemon] = await pidsOf('daemon.pids');
      expect(await isRunning(session, daemon ?? 0)).toBe(true);
      await session.run({ program: 'kill', args: [String(daemon)], cwd: '/', timeoutMs: 10_000 });
    });

    it('runs many programs at once on one connection', async () => {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          session.run({ program: 'echo', args: [String(i)], cwd: '/', timeoutMs: 10_000 }),
        ),
      );
      expect(results.map((r) => r.stdoutTail)).toEqual(
        Array.from({ length: 24 }, (_, i) => `${i}\n`),
      );
    });
  });

  describe('stopping programs', () => {
    it('kills a program and its children on the machine when it times out', async () => {
      const started = Date.now();
      const result = await sh('sleep 600 & echo "$$ $!" > tree.pids; wait', 700);
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true });
      expect(Date.now() - started).toBeLessThan(2_000);
      const pids = await pidsOf('tree.pids');
      expect(pids).toHaveLength(2);
      for (const pid of pids)
        await expect.poll(() => isRunning(session, pid), { timeout: 2_000 }).toBe(false);
    });

    it('uses SIGKILL when the program ignores SIGTERM', async () => {
      const result = await sh(
        `trap '' TERM; sleep 600 & echo "$$ $!" > stubborn.pids; while :; do sleep 1; done`,
        500,
      );
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
      for (const pid of await pidsOf('stubborn.pids'))
        await expect.poll(() => isRunning(session, pid), { timeout: 2_000 }).toBe(false);
    });

    it.skipIf(!remoteShell)(
      "keeps a program and its exit status when the shell's process group is hung up",
      async () => {
        // A connection of its own: the shell it hangs up is started again.
        const own = new SshPool({ hostKeys: new MemoryHostKeyStore(), agent: '', remoteShell });
        try {
          const machine = await own.session(targetOf(hosts, 0), { timeoutMs: 5_000 });
          // The program's parent, outside the program's own group, is in the shell's.
          const running = machine.run({
            program: 'sh',
            args: ['-c', 'ps -o pgid= -p $PPID > shell.pgid; sleep 1; exit 7'],
            cwd: base,
            timeoutMs: 10_000,
          });
          const pgid = async () =>
            Number((await machine.readFile(`${base}/shell.pgid`))?.toString().trim() ?? 0);
          await expect.poll(pgid, { timeout: 2_000 }).toBeGreaterThan(1);
          process.kill(-(await pgid()), 'SIGHUP');
          expect(await running).toMatchObject({ exitCode: 7, signal: null, timedOut: false });
        } finally {
          await own.close();
        }
      },
    );

    it('kills the program when aborted, without calling it a timeout', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 400);
      const result = await session.run({
        program: 'sh',
        args: ['-c', 'echo $$ > aborted.pids; exec sleep 600'],
        cwd: base,
        timeoutMs: 60_000,
        signal: controller.signal,
      });
      expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false });
      for (const pid of await pidsOf('aborted.pids'))
        await expect.poll(() => isRunning(session, pid), { timeout: 2_000 }).toBe(false);
    });
  });

  it('opens the channels it should', () => {
    // Through the shell: the shell (which is the connect probe) and SFTP. Without it: one per step.
    if (remoteShell) expect(pool.channels).toBe(2);
    else expect(pool.channels).toBeGreaterThan(40);
  });
}
