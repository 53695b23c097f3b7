/**
 * Runs a service's programs on this machine (`local_exe: true`), with the
 * same contract as a remote machine: files in a working directory, programs
 * run from there, killed at their timeout.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { onAbort } from '../abort.js';
import { HELPERS, type HelperDialect, HelperSpawner } from './helper-spawner.js';
import { KILL_TAGGED_SCRIPT, killTaggedArgs, parseKilled } from './kill-tagged.js';
import { claimLocalDir, ownsLocalDir } from './local-dirs.js';
import { writeWithMode } from './local-files.js';
import type {
  ClaimResult,
  KilledGroups,
  MachineSession,
  PrepareRequest,
  RunRequest,
  RunResult,
} from './machine.js';
import { OutputTail } from './output-tail.js';

/** How long to wait for output after a program exits while something else still holds its pipes. */
const STDIO_GRACE_MS = 250;

/** Kills a detached child's whole process group, so programs it started die too. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The {@link MachineSession} for this machine. */
export class LocalSession implements MachineSession {
  readonly label = 'local';
  /** Cheap program starts where the platform allows (see helper-spawner.ts). */
  readonly #spawner: HelperSpawner | undefined;
  /** Working directory bases this session found or made. */
  readonly #readyBases = new Set<string>();

  /**
   * Programs are started by a helper process where one can run: Perl where
   * it is installed, else `/bin/sh` with util-linux `setsid`; `helper` names
   * the only one to use. `useShell: false` forces direct child processes
   * (what platforms with neither get).
   */
  constructor(options: { useShell?: boolean; helper?: HelperDialect['name'] } = {}) {
    const dialects =
      options.helper === undefined ? HELPERS : HELPERS.filter((h) => h.name === options.helper);
    const spawner = (options.useShell ?? true) ? new HelperSpawner(dialects) : undefined;
    this.#spawner = spawner?.dialect !== undefined ? spawner : undefined;
  }

  /** Stops the helper process, if one was started. */
  close(): void {
    this.#spawner?.close();
  }

  writeFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
    return writeWithMode(path, data, mode);
  }

  async homeDir(): Promise<string> {
    return homedir();
  }

  async prepareDir(request: PrepareRequest): Promise<ClaimResult> {
    const claim = await claimLocalDir(request, this.#readyBases);
    const dir = request.chain.at(-1);
    if (!claim.ok || dir === undefined) return claim;
    if (claim.existed) {
      for (const name of request.stale ?? []) {
        try {
          unlinkSync(join(dir, name));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    await Promise.all(
      (request.files ?? []).map((f) => writeWithMode(join(dir, f.name), f.data, f.mode)),
    );
    return claim;
  }

  ownsDir(dir: string, markFile: string, mark: string): Promise<boolean> {
    return ownsLocalDir(dir, markFile, mark);
  }

  async readFile(path: string): Promise<Buffer | undefined> {
    // Most files asked for are absent (no bootout.json): a lookup that
    // returns nothing costs less than a failed open, which builds an error.
    const found = statSync(path, { throwIfNoEntry: false });
    if (found === undefined) return undefined;
    // It is read on this thread: a FIFO a program left there would block it for good.
    if (!found.isFile()) throw new Error(`${path} is not a regular file`);
    try {
      return readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async removeOwnedDir(
    dir: string,
    markFile: string,
    mark: string,
    emptyParent?: string,
  ): Promise<boolean> {
    if (!(await ownsLocalDir(dir, markFile, mark))) return false;
    await this.removeDir(dir, emptyParent);
    return true;
  }

  async removeDir(dir: string, emptyParent?: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    if (emptyParent !== undefined) await rmdir(emptyParent).catch(() => {});
  }

  async run(request: RunRequest): Promise<RunResult> {
    const { install, ...rest } = request;
    if (install !== undefined) {
      await writeWithMode(resolve(request.cwd, request.program), install.data, install.mode);
    }
    return this.#spawner?.run(rest) ?? spawnDirectly(rest);
  }

  killTagged(tokens: readonly string[], graceMs: number): Promise<KilledGroups> {
    const args = ['-c', KILL_TAGGED_SCRIPT, 'sh', ...killTaggedArgs(tokens, graceMs)];
    return new Promise((resolve, reject) => {
      execFile('/bin/sh', args, (error, stdout) =>
        error ? reject(error) : resolve(parseKilled(stdout)),
      );
    });
  }
}

/** Runs a program as a direct child of this process (where no helper shell can be used). */
function spawnDirectly(request: RunRequest): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    let timedOut = false;
    const child = spawn(request.program, [...request.args], {
      cwd: request.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(request.env !== undefined && { env: { ...process.env, ...request.env } }),
    });
    // Detached: the child leads a process group of its own.
    if (child.pid !== undefined) request.onStart?.(child.pid);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, request.timeoutMs);
    const cancelAbort = request.signal && onAbort(request.signal, () => killGroup(child.pid));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      request.onOutput?.('stdout', chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      request.onOutput?.('stderr', chunk);
    });
    let done = false;
    const finish = (exitCode: number | null, signal: string | null, spawnError?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cancelAbort?.();
      if (spawnError !== undefined) stderr.push(Buffer.from(`${spawnError.message}\n`));
      resolve({
        exitCode: spawnError !== undefined ? 127 : exitCode,
        signal,
        timedOut,
        stdoutTail: stdout.text(),
        stderrTail: stderr.text(),
        durationMs: performance.now() - started,
      });
    };
    child.on('error', (error) =>
      // Node names the program when it is the working directory that is missing.
      finish(
        null,
        null,
        existsSync(request.cwd) ? error : new Error(`cd: ${request.cwd}: not found`),
      ),
    );
    child.on('close', (code, signal) => finish(code, signal));
    // A program that leaves a daemon behind (`server &`) may hand it our
    // pipes; don't wait for the daemon, only for the program itself.
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, STDIO_GRACE_MS).unref();
    });
  });
}
