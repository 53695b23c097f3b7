/**
 * Hands out a {@link MachineSession} for a service's target: the local
 * session for `local_exe`, otherwise one reused SSH connection per machine.
 */
import { LocalSession } from '../exec/local-session.js';
import type { MachineSession, MachineTarget } from '../exec/machine.js';
import { type HostKeyStore, SshPool } from '../exec/ssh-pool.js';

/** Connection limits for SSH. */
export interface MachinePoolOptions {
  readonly hostKeys: HostKeyStore;
  readonly maxHandshakes?: number;
  readonly maxHandshakesPerHost?: number;
}

/** Sessions for every machine of a run, for the length of one operation. */
export class MachinePool {
  readonly #local = new LocalSession();
  readonly #ssh: SshPool;

  constructor(options: MachinePoolOptions) {
    this.#ssh = new SshPool({
      hostKeys: options.hostKeys,
      ...(options.maxHandshakes !== undefined && { maxHandshakes: options.maxHandshakes }),
      ...(options.maxHandshakesPerHost !== undefined && {
        maxHandshakesPerHost: options.maxHandshakesPerHost,
      }),
    });
  }

  /**
   * A session for `target`, waiting (within `timeoutMs`) until the machine is
   * reachable. A machine that existed before the run (`existing`) is up, so a
   * refused key is final at once; a freshly launched VM gets time to install
   * its keys.
   */
  session(
    target: MachineTarget,
    timeoutMs: number,
    options: { signal?: AbortSignal | undefined; existing: boolean },
  ): Promise<MachineSession> {
    if (target.kind === 'local') return Promise.resolve(this.#local);
    return this.#ssh.session(target, {
      timeoutMs,
      ...(options.signal !== undefined && { signal: options.signal }),
      ...(options.existing && { authGraceMs: 0 }),
    });
  }

  /** SSH handshakes made so far. */
  get handshakes(): number {
    return this.#ssh.handshakes;
  }

  /** SSH channels opened so far. */
  get channels(): number {
    return this.#ssh.channels;
  }

  /** SSH requests so far that waited for an answer. */
  get roundTrips(): number {
    return this.#ssh.roundTrips;
  }

  /** Closes every connection (and the local program runner). */
  close(): Promise<void> {
    this.#local.close();
    return this.#ssh.close();
  }
}
