/**
 * Small files on this machine, written with as few hand-offs to the thread
 * pool as the work allows.
 *
 * A boot of a thousand local services writes thousands of files of a few
 * hundred bytes. Through `fs/promises` each open, write, mode change and
 * close is a trip to the thread pool and back, which costs the main thread
 * more than the kernel needs for the write itself. Only creating a file
 * stays on the pool: allocating an inode can take the kernel half a
 * millisecond (a journal-less ext4 skips recently freed inodes one by one),
 * which must not hold up the main thread. Writing to the new descriptor,
 * and everything on files that exist, is done synchronously.
 */
import { closeSync, constants, fchmodSync, open, openSync, unlinkSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

/** A new file, never one that exists: fails with `EEXIST` otherwise. */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

/** Rewrites an existing file in place; fails on a symbolic link (and on a FIFO with no reader). */
const REWRITE =
  constants.O_WRONLY | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Opens a file on the thread pool (`fs.open` as a promise): the descriptor. */
export const openOnPool = promisify(open);

/** Writes all of `data` to `fd`, synchronously. */
export function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let written = 0; written < bytes.length; ) {
    written += writeSync(fd, bytes, written, bytes.length - written);
  }
}

/** Writes all of `data` to `fd`, then closes it. */
function writeAndClose(fd: number, data: string | Uint8Array): void {
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a file that must not exist yet, with `mode`.
 * @throws the `EEXIST` error when it does (nothing is written).
 */
export async function writeNewFile(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  // Rejects with `EEXIST` when `path` exists.
  writeAndClose(await openOnPool(path, CREATE, mode), data);
}

/**
 * Writes a whole file with `mode`. A new file is created; an existing one is
 * rewritten in place; a symbolic link in its place (a program may have made
 * one) is replaced, never followed.
 */
export async function writeWithMode(
  path: string,
  data: string | Uint8Array,
  mode: number,
): Promise<void> {
  try {
    await writeNewFile(path, data, mode);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let fd: number;
  try {
    fd = openSync(path, REWRITE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    unlinkSync(path);
    await writeNewFile(path, data, mode);
    return;
  }
  try {
    fchmodSync(fd, mode);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  writeAndClose(fd, data);
}
