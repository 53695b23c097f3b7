/**
 * File transfer helpers of an SSH machine: SFTP writes and reads that send
 * what needs no answer without waiting for one, and the shell code that
 * writes a prepared directory's files in the same request as its claim.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { shellJoin } from '../template/shell-words.js';
import type { DirFile } from './machine.js';
import { writeCode } from './ssh-shell.js';

/** Files up to this size are written in one SFTP write request (OpenSSH accepts 256 KiB). */
export const PIPELINED_WRITE_BYTES = 32 * 1024;

/**
 * Removes `path` if it is there, sent without waiting for the answer (the
 * server handles requests in order): what follows creates the file anew, so
 * a symbolic link a program left in its place is replaced, never written
 * through. Resolves either way.
 */
export function unlinkAhead(sftp: SFTPWrapper, path: string): Promise<void> {
  return sftpCall((done) => sftp.unlink(path, done)).catch(() => {});
}

/**
 * Writes a small file in two round trips: remove and exclusive open (with
 * the mode) sent together (see {@link unlinkAhead}), then write, mode change
 * and close sent together (the server handles them in order). The mode
 * given at creation is reduced by the umask, hence the explicit `fchmod`.
 */
export async function writePipelined(
  sftp: SFTPWrapper,
  path: string,
  bytes: Buffer,
  mode: number,
): Promise<void> {
  const removed = unlinkAhead(sftp, path);
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(path, 'wx', { mode }, (error, h) => (error ? reject(error) : resolve(h))),
  );
  await removed;
  const writing =
    bytes.length === 0
      ? Promise.resolve()
      : sftpCall((done) => sftp.write(handle, bytes, 0, bytes.length, 0, done));
  const chmod = sftpCall((done) => sftp.fchmod(handle, mode, done));
  const closing = sftpCall((done) => sftp.close(handle, done));
  const results = await Promise.allSettled([writing, chmod, closing]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

/** Performs one callback-style SFTP operation. */
export function sftpCall(operation: (done: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) =>
    operation((error) => (error ? reject(error) : resolve())),
  );
}

/** Size of file data in bytes. */
export function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/**
 * Shell code run after a claim (which set `R`): when it succeeded, removes
 * the stale names (if the directory existed) and writes the files, setting
 * `R` to `write INDEX` when file INDEX cannot be written. New files get mode
 * 0600 from the shell's umask; other modes, and files that may exist
 * already, get an explicit `chmod`.
 */
export function prepareCode(
  dir: string,
  stale: readonly string[],
  files: readonly DirFile[],
): Buffer[] {
  const path = (name: string): string => posix.join(dir, name);
  const code: Buffer[] = [];
  if (stale.length > 0) {
    code.push(
      Buffer.from(`[ "$R" = 'ok old' ] && ${shellJoin(['rm', '-f', '--', ...stale.map(path)])}
`),
    );
  }
  files.forEach((file, index) => {
    code.push(Buffer.from(`case $R in ok*) `), writeCode(path(file.name), file.data));
    code.push(
      Buffer.from(` || R='write ${index}' ;; esac
`),
    );
  });
  const modes = new Map<number, string[]>();
  for (const file of files)
    modes.set(file.mode, [...(modes.get(file.mode) ?? []), path(file.name)]);
  for (const [mode, paths] of modes) {
    const chmod = `chmod ${mode.toString(8)} -- ${shellJoin(paths)} 2>/dev/null || R='write ${files.findIndex((f) => path(f.name) === paths[0])}'`;
    const when =
      mode === 0o600 ? `[ "$R" = 'ok old' ]` : `case $R in ok*) true ;; *) false ;; esac`;
    code.push(
      Buffer.from(`${when} && { ${chmod}; }
`),
    );
  }
  return code;
}

/** SFTP reads are at most this long (OpenSSH serves up to 256 KiB; ssh2 splits larger ones). */
const READ_BYTES = 32 * 1024;

/**
 * Reads a whole file in two round trips when it fits one read: open, then
 * read (the close is sent without waiting for its answer). Rejects with
 * the SFTP error (code `NO_SUCH_FILE` when there is no file).
 */
export async function readPipelined(
  sftp: SFTPWrapper,
  path: string,
  countRoundTrip: () => void,
): Promise<Buffer> {
  countRoundTrip();
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(path, 'r', (error, h) => (error ? reject(error) : resolve(h))),
  );
  const chunks: Buffer[] = [];
  try {
    for (let offset = 0; ; ) {
      countRoundTrip();
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const read = await new Promise<number>((resolve, reject) =>
        sftp.read(handle, buffer, 0, READ_BYTES, offset, (error, n) =>
          // ssh2 reports the end of the file as an error (code 1, EOF).
          error
            ? (error as { code?: number }).code === 1
              ? resolve(0)
              : reject(error)
            : resolve(n),
        ),
      );
      if (read === 0) break;
      chunks.push(buffer.subarray(0, read));
      offset += read;
      if (read < READ_BYTES) break;
    }
  } finally {
    sftp.close(handle, () => {});
  }
  return Buffer.concat(chunks);
}
