/**
 * The contextualization contract on a machine (README, "On the machine"):
 * files in the service's working directory, programs (or `.tar.gz` bundles
 * with `run.sh`) uploaded there and run from there, `bootconf.json` +
 * `bootenv.sh` beside them, `bootout.json` read back; and the run's stored
 * copies of the local files it uploads.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import { CloudbootError } from '../errors.js';
import type { DirFile, MachineSession, RunRequest, RunResult } from '../exec/machine.js';
import type { Plan } from '../plan/model.js';
import { envVariableName } from '../plan/values.js';
import type { RunStore } from '../state/run-store.js';

/** Plan keys naming local files that commands after the boot still need. */
const INPUT_KEYS = ['bootpgm', 'readypgm', 'terminatepgm', 'bootconf'] as const;

/**
 * Stores in the run database every file the plan names for its programs and
 * bootconf templates (boot and reload), so that later commands use the
 * run's own copy, wherever the plan directory went. A path that is only
 * known once a `${…}` reference is resolved is stored when first read.
 */
export function storePlanInputs(store: RunStore, plan: Plan): void {
  const paths = new Set<string>();
  for (const service of plan.levels.flatMap((level) => level.services)) {
    for (const key of INPUT_KEYS) {
      const value = service.keys[key]?.value;
      if (value !== undefined && !value.includes('${') && envVariableName(value) === undefined) {
        paths.add(value);
      }
    }
  }
  const files: Array<readonly [string, Buffer]> = [];
  for (const path of paths) {
    try {
      files.push([path, readFileSync(path)]);
    } catch {
      // A file that cannot be read is reported by the command that needs it.
    }
  }
  store.storeInputs(files);
}

/**
 * Local program files of an operation: the run's stored copy (see
 * {@link storePlanInputs}), or the file read (and stored) on first use.
 * Each is read once per operation, however many services use it.
 */
export class ProgramFiles {
  readonly #cache = new Map<string, Promise<Buffer>>();
  readonly #store: RunStore;

  constructor(store: RunStore) {
    this.#store = store;
  }

  /** Contents of a local file. */
  read(path: string): Promise<Buffer> {
    let data = this.#cache.get(path);
    if (data === undefined) {
      data = this.#load(path);
      this.#cache.set(path, data);
    }
    return data;
  }

  async #load(path: string): Promise<Buffer> {
    const stored = this.#store.input(path);
    if (stored !== undefined) return stored;
    const data = await readFile(path);
    this.#store.storeInputs([[path, data]]);
    return data;
  }
}

const TARBALL = '.tar.gz';

/**
 * A program could not be installed on the machine (a tarball that does not
 * unpack, or has no executable `run.sh`); carries the output of the failing
 * step. The service fails in the phase that installs it.
 */
export class InstallError extends CloudbootError {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super('INSTALL', message);
  }
}

/** A program ready to run: the path, and the upload its start makes first (see `RunRequest.install`). */
export interface InstalledProgram {
  readonly path: string;
  readonly install?: RunRequest['install'];
}

/**
 * Puts a program into `workdir` and returns the path to run: the file
 * itself (uploaded by the run request, in the same round trip as the
 * start), or `<name>/run.sh` of an unpacked `<name>.tar.gz` (uploaded and
 * unpacked here).
 */
export async function installProgram(
  session: MachineSession,
  files: ProgramFiles,
  localPath: string,
  workdir: string,
  timeoutMs: number,
): Promise<InstalledProgram> {
  const name = basename(localPath);
  const remote = posix.join(workdir, name);
  const data = await files.read(localPath);
  if (!name.endsWith(TARBALL)) return { path: remote, install: { data, mode: 0o700 } };
  await session.writeFile(remote, data, 0o600);
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
  return { path: runScript };
}

/** `bootconf.json` and `bootenv.sh`, for {@link MachineSession.prepareDir} to write. */
export function bootFiles(bootconfJson: string, bootenv: string): DirFile[] {
  return [
    { name: 'bootconf.json', data: bootconfJson, mode: 0o600 },
    { name: 'bootenv.sh', data: bootenv, mode: 0o600 },
  ];
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
