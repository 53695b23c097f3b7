/**
 * Follows a file a running program writes its output to: new bytes are read
 * as they come (from {@link FIRST_POLL_MS} after the start every
 * {@link POLL_MS} while the program runs, then to the end when it exits) and
 * handed on in chunks, so output is never held whole in memory; the last few
 * KiB are kept for error messages.
 */
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { OutputTail } from './output-tail.js';

/** How often a running program's output file is read. */
export const POLL_MS = 250;
/**
 * When a running program's output file is first read. Programs shorter than
 * this cost no read while running: most trivial programs, even when a
 * hundred starting at once on two cores make each take several times
 * {@link POLL_MS}.
 */
export const FIRST_POLL_MS = 1_000;
const CHUNK_BYTES = 64 * 1024;

/** Reads one output file of one program; see the module comment. */
export class OutputFollower {
  /** The last few KiB read. */
  readonly tail = new OutputTail();
  /** What cut reading short, if anything did (the program's verdict still counts). */
  error: Error | undefined;
  readonly #file: string;
  readonly #onChunk: (chunk: Buffer) => void;
  #handle: FileHandle | undefined;
  #offset = 0;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(file: string, onChunk: (chunk: Buffer) => void) {
    this.#file = file;
    this.#onChunk = onChunk;
    this.#timer = setTimeout(this.#tick, FIRST_POLL_MS);
  }

  readonly #tick = (): void => {
    this.#reading = this.#reading
      .then(() => this.#readAvailable())
      .then(() => {
        if (!this.#stopped) this.#timer = setTimeout(this.#tick, POLL_MS);
      });
  };

  async #readAvailable(): Promise<void> {
    if (this.error !== undefined) return;
    try {
      if (this.#handle === undefined) {
        try {
          this.#handle = await open(this.#file, 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw error;
        }
      }
      for (;;) {
        const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
        const { bytesRead } = await this.#handle.read(buffer, 0, CHUNK_BYTES, this.#offset);
        if (bytesRead === 0) return;
        this.#offset += bytesRead;
        const chunk = buffer.subarray(0, bytesRead);
        this.tail.push(chunk);
        this.#onChunk(chunk);
      }
    } catch (error) {
      this.error = error as Error;
    }
  }

  /**
   * The program ended: reads what is left (when `written` says the file is
   * not empty), closes and removes the file. An empty file that was never
   * opened is left for the output directory's removal.
   */
  async finish(written: boolean): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#reading;
    if (!written && this.#handle === undefined) return;
    await this.#readAvailable();
    await this.#handle?.close().catch(() => {});
    await unlink(this.#file).catch(() => {});
  }
}
