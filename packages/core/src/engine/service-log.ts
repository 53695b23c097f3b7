/**
 * Per-service log files: every program's stdout and stderr, framed by what
 * ran and how it ended, under `<logDir>/<run>/<service>.log`.
 */
import { type WriteStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult } from '../exec/machine.js';

/** Opens log files lazily and closes them all at the end of an operation. */
export class ServiceLogs {
  readonly #dir: string;
  readonly #streams = new Map<string, WriteStream>();
  #created = false;

  /** `dir` is the run's own log directory. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Path of a service's log file. */
  path(service: string): string {
    return join(this.#dir, `${service}.log`);
  }

  #stream(service: string): WriteStream {
    let stream = this.#streams.get(service);
    if (stream === undefined) {
      if (!this.#created) {
        mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
        this.#created = true;
      }
      stream = createWriteStream(this.path(service), { flags: 'a', mode: 0o600 });
      // A log that cannot be written must not stop the boot; the events still tell.
      stream.on('error', () => {});
      this.#streams.set(service, stream);
    }
    return stream;
  }

  /** Writes a timestamped note line. */
  note(service: string, text: string): void {
    this.#stream(service).write(`[${new Date().toISOString()}] ${text}\n`);
  }

  /** Appends raw program output. */
  output(service: string, chunk: Buffer): void {
    this.#stream(service).write(chunk);
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

  /** Flushes and closes every open log file. */
  async close(): Promise<void> {
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    await Promise.all(streams.map((s) => new Promise<void>((resolve) => s.end(() => resolve()))));
  }
}
