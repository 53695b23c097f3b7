/**
 * The SSH executor: a pool of connections, one per (user, host, port,
 * credential), each reused for every step of every service on that machine.
 * `session()` waits through staged readiness (see `ssh-retry.ts`); host keys
 * are trusted on first use and pinned in the run's {@link HostKeyStore}.
 */
import { setMaxListeners } from 'node:events';
import type { Client } from 'ssh2';
import { UsageError } from '../errors.js';
import type { MachineSession, SshTarget } from './machine.js';
import { Semaphore } from './semaphore.js';
import { CredentialCache } from './ssh-credentials.js';
import type { HostKeyStore } from './ssh-host-key.js';
import { SshMachine, type SshMachineContext, type SshSessionOptions } from './ssh-machine.js';

export type { HostKeyStore } from './ssh-host-key.js';
export { hostKeyFingerprint, MemoryHostKeyStore } from './ssh-host-key.js';
export type { SshSessionOptions } from './ssh-machine.js';

/** Options of {@link SshPool}. */
export interface SshPoolOptions {
  /** Pinned host keys of the run. */
  readonly hostKeys: HostKeyStore;
  /** Concurrent handshakes across the pool (default 16), so big levels don't trip sshd `MaxStartups`. */
  readonly maxHandshakes?: number;
  /** Concurrent handshakes per host:port (default 4). */
  readonly maxHandshakesPerHost?: number;
  /** ssh agent socket; default `process.env.SSH_AUTH_SOCK`. Used when a target has no `privateKeyPath`. */
  readonly agent?: string;
  /**
   * How long authentication refusals are retried on a machine this pool has
   * never logged in to (its keys may not be installed yet); default 30 s.
   */
  readonly authGraceMs?: number;
  /**
   * Run every step of a machine through one long-lived `/bin/sh` per
   * connection (default true); false opens one exec channel per step.
   */
  readonly remoteShell?: boolean;
}

const DEFAULT_MAX_HANDSHAKES = 16;
const DEFAULT_MAX_HANDSHAKES_PER_HOST = 4;
const DEFAULT_AUTH_GRACE_MS = 30_000;

/** Pooled SSH connections to the machines of a run. */
export class SshPool {
  readonly #machines = new Map<string, SshMachine>();
  readonly #closing = new AbortController();
  readonly #allHandshakes: Semaphore;
  readonly #hostHandshakes = new Map<string, Semaphore>();
  readonly #maxPerHost: number;
  readonly #context: SshMachineContext;
  /** Handshakes for machines needed now, waiting or under way. */
  #foreground = 0;
  /** Background handshakes waiting for {@link #foreground} to drop to 0. */
  #deferred: Array<() => void> = [];
  #handshakes = 0;
  #channels = 0;
  #roundTrips = 0;
  #outputReads = 0;

  constructor(options: SshPoolOptions) {
    // Every machine's connection attempts listen for the pool closing.
    setMaxListeners(0, this.#closing.signal);
    this.#allHandshakes = new Semaphore(options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES);
    this.#maxPerHost = options.maxHandshakesPerHost ?? DEFAULT_MAX_HANDSHAKES_PER_HOST;
    this.#context = {
      hostKeys: options.hostKeys,
      credentials: new CredentialCache(),
      agent: options.agent ?? process.env.SSH_AUTH_SOCK,
      authGraceMs: options.authGraceMs ?? DEFAULT_AUTH_GRACE_MS,
      closing: this.#closing.signal,
      limitHandshake: (host, port, task, background) =>
        this.#limitHandshake(host, port, task, background),
      countHandshake: () => {
        this.#handshakes++;
      },
      countChannel: () => {
        this.#channels++;
      },
      countRoundTrip: () => {
        this.#roundTrips++;
      },
      countOutputRead: () => {
        this.#outputReads++;
      },
      remoteShell: options.remoteShell ?? true,
    };
  }

  /** Number of SSH handshakes (completed key exchanges) made so far. */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Number of SSH channels (exec, shell, SFTP) opened so far. */
  get channels(): number {
    return this.#channels;
  }

  /** Number of requests so far that waited for a machine's answer (commands, program starts, SFTP operations). */
  get roundTrips(): number {
    return this.#roundTrips;
  }

  /**
   * Number of SFTP requests so far that read programs' output files (opens
   * and reads; not in {@link roundTrips}: while a program runs, no step waits
   * for them).
   */
  get outputReads(): number {
    return this.#outputReads;
  }

  /**
   * The session of the machine at `target`, once it is usable: one connection
   * per (user, host, port, key), shared by all callers and re-established on
   * the next use after it drops. Concurrent calls share one connect attempt.
   * Rejects with a `RemoteError` naming the stage that failed.
   */
  async session(target: SshTarget, options: SshSessionOptions): Promise<MachineSession> {
    if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
    const key = [
      target.username,
      target.host,
      target.port,
      target.privateKeyPath ?? '(agent)',
    ].join('\0');
    let machine = this.#machines.get(key);
    if (machine === undefined) {
      machine = new SshMachine(target, this.#context);
      this.#machines.set(key, machine);
    }
    await machine.open(options);
    return machine;
  }

  /** Stops connect attempts and disconnects every machine; later calls reject. */
  async close(): Promise<void> {
    this.#closing.abort(new UsageError('the SSH pool is closed'));
    const machines = [...this.#machines.values()];
    this.#machines.clear();
    await Promise.all(machines.map((machine) => machine.close()));
  }

  async #limitHandshake(
    host: string,
    port: number,
    task: () => Promise<Client>,
    background: boolean,
  ): Promise<Client> {
    const hostKey = `${host}:${port}`;
    let perHost = this.#hostHandshakes.get(hostKey);
    if (perHost === undefined) {
      perHost = new Semaphore(this.#maxPerHost);
      this.#hostHandshakes.set(hostKey, perHost);
    }
    if (background) {
      while (this.#foreground > 0) await new Promise<void>((go) => this.#deferred.push(go));
    } else this.#foreground++;
    try {
      // Per host first, so a busy host does not hold pool-wide slots while it waits.
      return await perHost.use(() => this.#allHandshakes.use(task));
    } finally {
      if (!background && --this.#foreground === 0) {
        for (const go of this.#deferred.splice(0)) go();
      }
    }
  }
}
