/**
 * The contextualization contract on a machine (BRIEF §3 "Programs on the
 * machine"): files in the service's working directory, programs (or
 * `.tar.gz` bundles with `run.sh`) uploaded there and run from there,
 * `bootconf.json` + `bootenv.sh` beside them, `bootout.json` read back.
 */
import { readFile } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import type { MachineSession, RunResult } from '../exec/machine.js';

/** Local program files read once per operation, however many services use them. */
export class ProgramFiles {
  readonly #cache = new Map<string, Promise<Buffer>>();

  /** Contents of a local file. */
  read(path: string): Promise<Buffer> {
    let data = this.#cache.get(path);
    if (data === undefined) {
      data = readFile(path);
      this.#cache.set(path, data);
    }
    return data;
  }
}

const TARBALL = '.tar.gz';

/** A program failed to install; carries the output of the failing step. */
export class InstallError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
  }
}

/**
 * Uploads a program into `workdir` and returns the path to run: the file
 * itself, or `<name>/run.sh` of an unpacked `<name>.tar.gz`.
 */
export async function installProgram(
  session: MachineSession,
  files: ProgramFiles,
  localPath: string,
  workdir: string,
  timeoutMs: number,
): Promise<string> {
  const name = basename(localPath);
  const remote = posix.join(workdir, name);
  const data = await files.read(localPath);
  if (!name.endsWith(TARBALL)) {
    await session.writeFile(remote, data, 0o755);
    return remote;
  }
  await session.writeFile(remote, data, 0o644);
  const top = name.slice(0, -TARBALL.length);
  const unpack = await session.run({
    program: 'tar',
    args: ['-xzf', name],
    cwd: workdir,
    timeoutMs,
  });
  if (unpack.exitCode !== 0) {
    throw new InstallError(
      `could not unpack ${name}: tar exited with ${unpack.exitCode ?? unpack.signal}`,
      unpack,
    );
  }
  const runScript = posix.join(workdir, top, 'run.sh');
  const check = await session.run({
    program: 'test',
    args: ['-x', runScript],
    cwd: workdir,
    timeoutMs,
  });
  if (check.exitCode !== 0) {
    throw new InstallError(
      `${name} must contain a top directory "${top}" with an executable run.sh; ${top}/run.sh is missing or not executable`,
    );
  }
  return runScript;
}

/** Writes `bootconf.json` and `bootenv.sh` into the working directory. */
export async function writeBootFiles(
  session: MachineSession,
  workdir: string,
  bootconfJson: string,
  bootenv: string,
): Promise<void> {
  await session.writeFile(posix.join(workdir, 'bootconf.json'), bootconfJson, 0o600);
  await session.writeFile(posix.join(workdir, 'bootenv.sh'), bootenv, 0o600);
}

/** Name of the file a boot program leaves to publish attributes. */
export const BOOTOUT = 'bootout.json';

/**
 * Reads `bootout.json` if the boot program left one: every key becomes an
 * attribute (non-string values as JSON text).
 * @throws Error when the file is not a JSON object.
 */
export async function readBootout(
  session: MachineSession,
  workdir: string,
): Promise<Record<string, string>> {
  const data = await session.readFile(posix.join(workdir, BOOTOUT));
  if (data === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (error) {
    throw new Error(`${BOOTOUT} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(
      `${BOOTOUT} must hold a JSON object, not ${Array.isArray(parsed) ? 'an array' : typeof parsed}`,
    );
  }
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    attrs[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return attrs;
}

/**
 * The file cloudboot writes first into every working directory it makes:
 * its presence is what lets cloudboot remove the directory again. A
 * directory without it was not made by cloudboot and is never removed
 * (a `workdir` of `/` and a service named `etc` must not cost `/etc`).
 */
export const OWNERSHIP_MARK = 'bootconf.json';

/**
 * Creates a service's working directory, or accepts an existing one that
 * cloudboot made (it has the {@link OWNERSHIP_MARK}).
 * @throws Error naming the directory when it exists and is someone else's.
 */
export async function prepareWorkdir(session: MachineSession, workdir: string): Promise<void> {
  if (await session.createDir(workdir)) return;
  if ((await session.readFile(posix.join(workdir, OWNERSHIP_MARK))) !== undefined) {
    // Left by an earlier boot (dash-nine keeps directories): not this boot's output.
    await session.run({
      program: 'rm',
      args: ['-f', '--', BOOTOUT],
      cwd: workdir,
      timeoutMs: 30_000,
    });
    return;
  }
  throw new Error(
    `working directory ${workdir} already exists and was not made by cloudboot (it has no ${OWNERSHIP_MARK}); set workdir so that each service gets a directory of its own, or remove it`,
  );
}

/**
 * Removes a working directory only if it is empty (`rmdir`): what a crash
 * between creating it and writing the {@link OWNERSHIP_MARK} leaves behind.
 * An empty directory holds nothing of anyone's. Resolves whether it was removed.
 */
export async function removeEmptyWorkdir(
  session: MachineSession,
  workdir: string,
): Promise<boolean> {
  const result = await session.run({
    program: 'rmdir',
    args: ['--', workdir],
    cwd: '/',
    timeoutMs: 30_000,
  });
  return result.exitCode === 0;
}

/**
 * Removes a service's working directory if cloudboot made it: it has the
 * {@link OWNERSHIP_MARK}, or `createdNow` says this operation created it.
 * Resolves whether it was removed.
 */
export async function removeWorkdir(
  session: MachineSession,
  workdir: string,
  createdNow = false,
): Promise<boolean> {
  if (!createdNow && (await session.readFile(posix.join(workdir, OWNERSHIP_MARK))) === undefined) {
    return false;
  }
  await session.removeDir(workdir);
  return true;
}
