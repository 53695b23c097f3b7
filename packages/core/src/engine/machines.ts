/**
 * Hands out a {@link MachineSession} for a service's target: the local
 * session for `local_exe`, otherwise one reused SSH connection per machine.
 * The SSH pool (and ssh2 with it) is loaded on the first SSH target, so an
 * operation on local services never loads it.
 */
import { LocalSession } from '../exec/local-session.js';
import type { MachineSession, MachineTarget } from '../exec/machine.js';
import type { HostKeyStore } from '../exec/ssh-host-key.js';
import type { SshPool } from '../exec/ssh-pool.js';

/** Connection limits for SSH. */
export interface MachinePoolOptions {
  readonly hostKeys: HostKeyStore;
  readonly maxHandshakes?: number;
  readonly maxHandshakesPerHost?: number;
}

/** Sessions for every machine of a run, for the length of one operation. */
export class MachinePool {
  readonly #local = new LocalSession();
  readonly #options: MachinePoolOptions;
  #ssh: Promise<SshPool> | undefined;
  #loaded: SshPool | undefined;

  constructor(options: MachinePoolOptions) {
    this.#options = options;
  }

  #pool(): Promise<SshPool> {
    const options = this.#options;
    this.#ssh ??= import('../exec/ssh-pool.js').then(({ SshPool }) => {
      this.#loaded = new SshPool({
        hostKeys: options.hostKeys,
        ...(options.maxHandshakes !== undefined && { maxHandshakes: options.maxHandshakes }),
        ...(options.maxHandshakesPerHost !== undefined && {
          maxHandshakesPerHost: options.maxHandshakesPerHost,
        }),
      });
      return this.#loaded;
    });
    return this.#ssh;
  }

  /**
   * A session for `target`, waiting (within `timeoutMs`) until the machine is
   * reachable. A machine that existed before the run (`existing`) is up, so a
   * refused key is final at once; a freshly launched VM gets time to install
   * its keys.
   */
  async session(
    target: MachineTarget,
    timeoutMs: number,
    options: { signal?: AbortSignal | undefined; existing: boolean },
  ): Promise<MachineSession> {
    if (target.kind === 'local') return this.#local;
    const pool = await this.#pool();
    return pool.session(target, {
      timeoutMs,
      ...(options.signal !== undefined && { signal: options.signal }),
      ...(options.existing && { authGraceMs: 0 }),
    });
  }

  /**
   * Starts connecting `target` ahead of its use (see `prewarm.ts`): the
   * session is shared with the later {@link session} call for the machine. A
   * failure is dropped here: that call tries again and reports it. A
   * `background` handshake waits while handshakes of machines needed now are
   * under way.
   */
  prewarm(
    target: MachineTarget,
    timeoutMs: number,
    options: { signal?: AbortSignal | undefined; existing: boolean; background: boolean },
  ): void {
    if (target.kind === 'local' || options.signal?.aborted) return;
    this.#pool()
      .then((pool) =>
        pool.session(target, {
          timeoutMs,
          background: options.background,
          ...(options.signal !== undefined && { signal: options.signal }),
          ...(options.existing && { authGraceMs: 0 }),
        }),
      )
      .catch(() => {});
  }

  /** SSH handshakes made so far. */
  get handshakes(): number {
    return this.#loaded?.handshakes ?? 0;
  }

  /** SSH channels opened so far. */
  get channels(): number {
    return this.#loaded?.channels ?? 0;
  }

  /** SSH requests so far that waited for an answer. */
  get roundTrips(): number {
    return this.#loaded?.roundTrips ?? 0;
  }

  /** Closes every connection (and the local program runner). */
  async close(): Promise<void> {
    this.#local.close();
    if (this.#ssh !== undefined) await (await this.#ssh).close();
  }
}
