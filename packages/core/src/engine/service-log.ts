/**
 * Per-service log files: every program's stdout and stderr, framed by what
 * ran and how it ended, plus each state transition, under
 * `<logDir>/<run>/<service>.log`.
 *
 * Entries are buffered in memory and written at most every
 * {@link FLUSH_INTERVAL_MS} (and when the operation ends), by one writer at
 * a time: a boot of a thousand services makes tens of thousands of small log
 * entries, and creating a thousand files in one directory from several
 * threads at once mostly contends for the directory's lock.
 */
import { closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openOnPool, writeAll } from '../exec/local-files.js';
import type { RunResult } from '../exec/machine.js';

/** How long an entry may wait in memory before it is written. */
export const FLUSH_INTERVAL_MS = 200;

/** Bytes of a program's output written to the log from its start. */
export const LOG_HEAD_BYTES = 2 * 1024 * 1024;
/** Bytes of a program's output written to the log from its end. */
export const LOG_TAIL_BYTES = 2 * 1024 * 1024;

/** One program run's output on its way to the log; see {@link ServiceLogs.programOutput}. */
export class ProgramOutput {
  readonly #write: (chunk: Buffer) => void;
  readonly #note: (text: string) => void;
  #headLeft = LOG_HEAD_BYTES;
  readonly #tail: Buffer[] = [];
  #tailSize = 0;
  #omitted = 0;

  constructor(write: (chunk: Buffer) => void, note: (text: string) => void) {
    this.#write = write;
    this.#note = note;
  }

  /** Takes the next chunk of output (stdout and stderr alike, in arrival order). */
  write(chunk: Buffer): void {
    if (this.#headLeft > 0) {
      const head = chunk.subarray(0, this.#headLeft);
      this.#headLeft -= head.length;
      this.#write(head);
      chunk = chunk.subarray(head.length);
      if (chunk.length === 0) return;
    }
    this.#tail.push(chunk);
    this.#tailSize += chunk.length;
    for (let first = this.#tail[0]; first !== undefined; first = this.#tail[0]) {
      const excess = this.#tailSize - LOG_TAIL_BYTES;
      if (excess <= 0) break;
      const dropped = Math.min(excess, first.length);
      this.#omitted += dropped;
      this.#tailSize -= dropped;
      if (dropped === first.length) this.#tail.shift();
      else this.#tail[0] = first.subarray(dropped);
    }
  }

  /** The program ended: writes the kept tail, after a note of what was left out. */
  end(): void {
    if (this.#omitted > 0) {
      this.#write(Buffer.from('\n'));
      this.#note(
        `[${this.#omitted} bytes of output left out; the last ${this.#tailSize} bytes follow]`,
      );
    }
    for (const chunk of this.#tail.splice(0)) this.#write(chunk);
    this.#tailSize = 0;
  }
}

/**
 * Log files kept open at once. Beyond it the least recently written one is
 * closed (and opened again if its service writes more): a boot of 10 000
 * services would otherwise hold 10 000 descriptors until it ends, past a
 * default limit of 1024, and a handle's memory each.
 */
export const MAX_OPEN_LOG_FILES = 256;

/** Opens log files lazily, keeps at most {@link MAX_OPEN_LOG_FILES} open, and closes them all at the end of an operation. */
export class ServiceLogs {
  readonly #dir: string;
  /** Open descriptors by service, the most recently written last. */
  readonly #files = new Map<string, number>();
  readonly #pending = new Map<string, Array<string | Buffer>>();
  #timer: NodeJS.Timeout | undefined;
  /** The flush in progress; flushes never overlap. */
  #writing: Promise<void> = Promise.resolve();
  #created = false;

  /** `dir` is the run's own log directory. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Path of a service's log file. */
  path(service: string): string {
    return join(this.#dir, `${service}.log`);
  }

  async #file(service: string): Promise<number> {
    let file = this.#files.get(service);
    if (file !== undefined) {
      this.#files.delete(service);
      this.#files.set(service, file);
      return file;
    }
    if (!this.#created) {
      mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
      this.#created = true;
    }
    file = await openOnPool(this.path(service), 'a', 0o600);
    this.#files.set(service, file);
    for (const [oldest, fd] of this.#files) {
      if (this.#files.size <= MAX_OPEN_LOG_FILES) break;
      this.#files.delete(oldest);
      closeSync(fd);
    }
    return file;
  }

  #append(service: string, entry: string | Buffer): void {
    const pending = this.#pending.get(service);
    if (pending === undefined) this.#pending.set(service, [entry]);
    else pending.push(entry);
    this.#timer ??= setTimeout(() => this.#flush(), FLUSH_INTERVAL_MS).unref();
  }

  /**
   * Writes what is pending, after the flush before it. A log file is
   * opened (created, the costly part) on the thread pool; the appends,
   * a few hundred bytes a service, are written synchronously: through the
   * pool, a thousand services' appends cost more in hand-offs than the
   * kernel needs to write them.
   */
  #flush(): Promise<void> {
    this.#timer = undefined;
    const batch = [...this.#pending];
    this.#pending.clear();
    this.#writing = this.#writing.then(async () => {
      for (const [service, entries] of batch) {
        try {
          const fd = await this.#file(service);
          writeAll(
            fd,
            Buffer.concat(entries.map((e) => (typeof e === 'string' ? Buffer.from(e) : e))),
          );
        } catch {
          // A log that cannot be written must not stop the boot; the events still tell.
        }
      }
    });
    return this.#writing;
  }

  /** Writes a timestamped note line. */
  note(service: string, text: string): void {
    this.#append(service, `[${new Date().toISOString()}] ${text}\n`);
  }

  /**
   * The log's share of one program run's output: the first
   * {@link LOG_HEAD_BYTES} as they come, then only the last
   * {@link LOG_TAIL_BYTES} are kept, written with a note of how much was
   * left out when the program ends ({@link ProgramOutput.end}).
   */
  programOutput(service: string): ProgramOutput {
    return new ProgramOutput(
      (chunk) => this.#append(service, chunk),
      (text) => this.note(service, text),
    );
  }

  /** Notes how a program ended. */
  result(service: string, program: string, result: RunResult): void {
    const how = result.timedOut
      ? 'timed out'
      : result.exitCode !== null
        ? `exit ${result.exitCode}`
        : `killed by ${result.signal ?? 'a signal'}`;
    this.note(service, `${program}: ${how} after ${Math.round(result.durationMs)} ms`);
  }

  /** Writes what is pending, then closes every log file. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#flush();
    for (const fd of this.#files.values()) closeSync(fd);
    this.#files.clear();
  }
}
