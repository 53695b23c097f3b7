/**
 * Private directories on this machine: {@link MachineSession.prepareDir} and
 * {@link MachineSession.ownsDir} for the local session. Modes are given
 * explicitly (0700 directories, 0600 mark), so the umask cannot widen them.
 */
import {
  accessSync,
  constants,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeNewFile, writeWithMode } from './local-files.js';
import type { ClaimRequest, ClaimResult } from './machine.js';

const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

function uid(): number {
  return process.getuid?.() ?? -1;
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Makes `base` (missing levels 0700) or finds it writable; a refusal otherwise. */
function prepareBase(base: string): ClaimResult | undefined {
  let existing = base;
  while (lstatOrUndefined(existing) === undefined) existing = dirname(existing);
  const refuse = (reason: 'not-directory' | 'unwritable'): ClaimResult => ({
    ok: false,
    reason,
    path: existing,
    inBase: true,
  });
  try {
    // Follows a symbolic link: the base is the user's choice, not a level cloudboot owns.
    if (!statSync(existing).isDirectory()) {
      return refuse('not-directory');
    }
  } catch {
    return refuse('not-directory');
  }
  if (!writable(existing)) return refuse('unwritable');
  if (existing !== base) {
    try {
      mkdirSync(base, { recursive: true, mode: PRIVATE_DIR });
    } catch {
      return refuse('unwritable');
    }
  }
  return undefined;
}

/**
 * {@link MachineSession.prepareDir} on this machine. `readyBases` holds the
 * bases already found or made (by earlier claims of the same session): their
 * checks are not repeated; a base removed since makes the claim fail on its
 * first level instead.
 */
export async function claimLocalDir(
  request: ClaimRequest,
  readyBases?: Set<string>,
): Promise<ClaimResult> {
  if (readyBases?.has(request.base) !== true) {
    const refused = prepareBase(request.base);
    if (refused !== undefined) return refused;
    readyBases?.add(request.base);
  }
  let existed = false;
  for (const dir of request.chain) {
    let found = lstatOrUndefined(dir);
    if (found === undefined) {
      try {
        await mkdir(dir, { mode: PRIVATE_DIR });
        existed = false;
        continue;
      } catch {
        // Made meanwhile (by another service of the run, say): checked like any that exists.
        found = lstatOrUndefined(dir);
        if (found === undefined)
          return { ok: false, reason: 'unwritable', path: dir, inBase: false };
      }
    }
    if (found.isSymbolicLink()) return { ok: false, reason: 'symlink', path: dir, inBase: false };
    if (!found.isDirectory()) {
      return { ok: false, reason: 'not-directory', path: dir, inBase: false };
    }
    if (found.uid !== uid()) {
      return { ok: false, reason: 'foreign', path: dir, inBase: false, uid: found.uid };
    }
    existed = true;
  }
  const last = request.chain.at(-1);
  if (last === undefined) return { ok: true, existed: false };
  const markPath = join(last, request.markFile);
  let halfMarked = false;
  if (existed) {
    const found = readMark(markPath);
    if (found === request.mark) return { ok: true, existed: true };
    const entries = readdirSync(last);
    // A cloudboot killed while writing the mark leaves the mark alone, cut short.
    halfMarked =
      entries.length === 1 &&
      entries[0] === request.markFile &&
      found !== undefined &&
      request.mark.startsWith(found);
    if (entries.length > 0 && !halfMarked) {
      return { ok: false, reason: 'taken', path: last, inBase: false };
    }
  }
  // A half-written mark is rewritten in place, never through a symbolic link.
  await (halfMarked ? writeWithMode : writeNewFile)(markPath, `${request.mark}\n`, PRIVATE_FILE);
  return { ok: true, existed: false };
}

function readMark(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** {@link MachineSession.ownsDir} on this machine. */
export async function ownsLocalDir(dir: string, markFile: string, mark: string): Promise<boolean> {
  const found = lstatOrUndefined(dir);
  if (found === undefined || !found.isDirectory() || found.uid !== uid()) return false;
  return readMark(join(dir, markFile)) === mark;
}
