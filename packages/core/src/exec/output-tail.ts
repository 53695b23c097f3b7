import { OUTPUT_TAIL_BYTES } from './machine.js';

/** Keeps the last {@link OUTPUT_TAIL_BYTES} bytes of a stream, for error messages. */
export class OutputTail {
  #chunks: Buffer[] = [];
  #size = 0;

  /** Appends a chunk, dropping the oldest bytes beyond the limit. */
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= OUTPUT_TAIL_BYTES) {
      this.#size -= this.#chunks.shift()?.length ?? 0;
    }
  }

  /** The kept bytes as UTF-8 text (at most the limit). */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - OUTPUT_TAIL_BYTES)).toString('utf8');
  }
}
