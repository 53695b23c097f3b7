/**
 * Counting semaphore: bounds SSH handshakes (so large levels do not
 * trip sshd's `MaxStartups`) and channels per connection (`MaxSessions`).
 */

/** Gives out at most `capacity` slots at a time, first come first served. */
export class Semaphore {
  readonly #capacity: number;
  #used = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`a limit must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Runs `task` while holding one slot. */
  async use<T>(task: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(): Promise<void> {
    if (this.#used < this.#capacity) {
      this.#used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#used--;
  }
}
