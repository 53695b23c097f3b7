/**
 * Working directories on a machine: `<base>/<run>/<service>`, the base being
 * the plan's `workdir` or `~/.cloudboot/work` of the login user. Every level
 * cloudboot makes is a private (0700) directory of the login user, never a
 * symbolic link, and the service's directory carries a mark naming the run
 * and a random id kept in the run database: a directory is this run's only
 * when it carries exactly that mark, so two runs on one machine never use,
 * or remove, each other's directories, nor anyone else's.
 */
import { userInfo } from 'node:os';
import { posix } from 'node:path';
import type { ClaimResult, DirFile, MachineSession } from '../exec/machine.js';
import type { OperationContext } from './operation-context.js';
import { BOOTOUT } from './programs.js';
import type { MachineSettings } from './service-settings.js';

/** Name of the ownership mark file in a service's working directory. */
export const OWNERSHIP_MARK = '.cloudboot-run';

/** Where a service's working directory is on its machine. */
export interface ServiceDir {
  /** The base: `workdir`, or the login user's home for the default. */
  readonly base: string;
  /** Levels cloudboot makes and owns, outermost first; the last is {@link dir}. */
  readonly chain: readonly string[];
  /** `<base>/<run>`. */
  readonly runDir: string;
  /** `<base>/<run>/<service>`: where programs are uploaded and run. */
  readonly dir: string;
  /** The mark that says "made by this run". */
  readonly mark: string;
}

/** Resolves where a service's directory is (asks the machine for the home directory if needed). */
export async function serviceDir(
  ctx: OperationContext,
  session: MachineSession,
  settings: MachineSettings,
): Promise<ServiceDir> {
  const run = ctx.store.runName;
  const configured = settings.workdirBase;
  let base: string;
  let own: string[] = [];
  if (configured === undefined) {
    base = await session.homeDir();
    own = [posix.join(base, '.cloudboot'), posix.join(base, '.cloudboot', 'work')];
  } else if (configured === '~' || configured.startsWith('~/')) {
    base = posix.join(await session.homeDir(), configured.slice(1));
  } else {
    base = posix.normalize(configured);
  }
  const runDir = posix.join(own.at(-1) ?? base, run);
  const dir = posix.join(runDir, settings.name);
  return {
    base,
    chain: [...own, runDir, dir],
    runDir,
    dir,
    mark: `${run} ${ctx.store.machineMark()}`,
  };
}

/**
 * Makes the service's directory (or takes back the one this run made
 * earlier, without the `bootout.json` of an earlier boot) and writes the
 * files `files` gives into it: over SSH one request for all of it. When
 * `files` fails, the directory is made all the same (a terminate program
 * may use it) and its error is thrown.
 * @throws Error saying which directory cannot be used and what to do.
 */
export async function prepareServiceDir(
  session: MachineSession,
  dirs: ServiceDir,
  settings: MachineSettings,
  runName: string,
  files: () => Promise<readonly DirFile[]> = async () => [],
): Promise<void> {
  let content: readonly DirFile[] = [];
  let failure: { error: unknown } | undefined;
  try {
    content = await files();
  } catch (error) {
    failure = { error };
  }
  const claim = await session.prepareDir({
    base: dirs.base,
    chain: dirs.chain,
    markFile: OWNERSHIP_MARK,
    mark: dirs.mark,
    stale: [BOOTOUT],
    files: content,
  });
  if (!claim.ok) throw new Error(refusalMessage(claim, dirs, settings, runName));
  if (failure !== undefined) throw failure.error;
}

function refusalMessage(
  claim: Extract<ClaimResult, { ok: false }>,
  dirs: ServiceDir,
  settings: MachineSettings,
  runName: string,
): string {
  const { path, reason } = claim;
  if (claim.inBase) {
    const user = loginUser(settings);
    const why =
      path === dirs.base
        ? reason === 'not-directory'
          ? 'it is not a directory'
          : `it is not writable by user ${user}`
        : `it cannot be created (${path} is ${reason === 'not-directory' ? 'not a directory' : `not writable by user ${user}`})`;
    return `cannot use ${dirs.base} as the base of working directories (plan key workdir): ${why}; set workdir to a directory the user can write`;
  }
  switch (reason) {
    case 'taken':
      return `working directory ${path} already exists and was not made by run ${runName}; cloudboot uses only directories it made itself: remove it, or set workdir to another base`;
    case 'symlink':
      return `cannot use ${path} as a working directory: it is a symbolic link; cloudboot follows none: remove it`;
    case 'foreign':
      return `cannot use ${path} as a working directory: it belongs to another user (uid ${claim.uid}); remove it, or set workdir to another base`;
    case 'not-directory':
      return `cannot use ${path} as a working directory: it is not a directory; remove it, or set workdir to another base`;
    default:
      return `cannot create the working directory ${path}; set workdir (plan key) to a directory the user can write`;
  }
}

function loginUser(settings: MachineSettings): string {
  if (settings.target.kind === 'ssh') return settings.target.username;
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '?');
  }
}

/** True when the service's directory exists and this run made it. Creates nothing. */
export function ownsServiceDir(session: MachineSession, dirs: ServiceDir): Promise<boolean> {
  return session.ownsDir(dirs.dir, OWNERSHIP_MARK, dirs.mark);
}

/**
 * Removes the service's directory, and the run's if now empty, when this run
 * made it (in one request to the machine); resolves with whether it did.
 */
export function removeOwnedServiceDir(session: MachineSession, dirs: ServiceDir): Promise<boolean> {
  return session.removeOwnedDir(dirs.dir, OWNERSHIP_MARK, dirs.mark, dirs.runDir);
}

/** Removes the service's directory (call only when {@link ownsServiceDir}), and the run's if now empty. */
export async function removeServiceDir(session: MachineSession, dirs: ServiceDir): Promise<void> {
  await session.removeDir(dirs.dir, dirs.runDir);
}
