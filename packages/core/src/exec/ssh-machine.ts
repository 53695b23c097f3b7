/**
 * One machine reached over SSH: a single connection (re-established when it
 * drops), its long-lived shell (started as the connection's first command,
 * in place of a probe) and its SFTP channel (opened once a step may need
 * it: a directory prepared or a program started, so a shutdown that only
 * removes directories opens none), shared by every step of every service on
 * that machine; without the shell, a bounded number of exec channels, one
 * per step.
 */
import { posix } from 'node:path';
import ssh2, { type Client, type SFTPWrapper } from 'ssh2';
import { abortable } from '../abort.js';
import { type ConnectStage, RemoteError } from '../errors.js';
import { shellJoin } from '../template/shell-words.js';
import { KILL_TAGGED_SCRIPT, killTaggedArgs, parseKilled } from './kill-tagged.js';
import type {
  ClaimResult,
  KilledGroups,
  MachineSession,
  PrepareRequest,
  RunRequest,
  RunResult,
  SshTarget,
} from './machine.js';
import { Semaphore } from './semaphore.js';
import { connectOnce } from './ssh-connect.js';
import type { CredentialCache } from './ssh-credentials.js';
import {
  claimCall,
  ownsCall,
  parseClaim,
  parseRemoval,
  removeCall,
  standalone,
} from './ssh-dirs.js';
import {
  byteLength,
  PIPELINED_WRITE_BYTES,
  prepareCode,
  readPipelined,
  sftpCall,
  unlinkAhead,
  writePipelined,
} from './ssh-files.js';
import { type ExpectedHostKey, type HostKeyStore, invalidHostKeyReason } from './ssh-host-key.js';
import { attemptTimeout, connectWithRetry } from './ssh-retry.js';
import { type CommandExit, execCommand, runProgram, type StopSignal } from './ssh-run.js';
import { INLINE_FILE_BYTES, RemoteShell, ShellLostError } from './ssh-shell.js';
import { runInShell, type ShellRunHost } from './ssh-shell-run.js';

/** How a caller waits for a machine to become usable. */
export interface SshSessionOptions {
  /** Give up after this long (staged readiness: tcp, handshake, auth, command). */
  readonly timeoutMs: number;
  /** Stops waiting (the connect attempt itself continues for other callers). */
  readonly signal?: AbortSignal;
  /** Told about each failed attempt that will be retried. */
  readonly onRetry?: (stage: ConnectStage, error: Error) => void;
  /** Overrides the pool's `authGraceMs` (see `ssh-retry.ts`) for this call. */
  readonly authGraceMs?: number;
  /**
   * A connect ahead of need (prewarming): its handshakes wait while
   * handshakes for machines needed now are under way, so they do not slow
   * those down.
   */
  readonly background?: boolean;
}

/** What a machine needs from its pool. */
export interface SshMachineContext {
  readonly hostKeys: HostKeyStore;
  /** The private keys of the pool, read once each. */
  readonly credentials: CredentialCache;
  readonly agent: string | undefined;
  readonly authGraceMs: number;
  /** Aborted (with a `UsageError`) when the pool closes. */
  readonly closing: AbortSignal;
  /** Runs one connect attempt inside the pool's handshake limits (see {@link SshSessionOptions.background}). */
  limitHandshake(
    host: string,
    port: number,
    task: () => Promise<Client>,
    background: boolean,
  ): Promise<Client>;
  /** Counts one completed key exchange. */
  countHandshake(): void;
  /** Counts one channel opened (exec, shell or SFTP). */
  countChannel(): void;
  /** Counts one request that waits for the machine's answer. */
  countRoundTrip(): void;
  /** Counts one SFTP request that reads a running or ended program's output. */
  countOutputRead(): void;
  /** Run steps through one long-lived remote shell per connection (when it starts). */
  readonly remoteShell: boolean;
}

/**
 * sshd's default `MaxSessions` is 10 channels per connection: 8 for commands
 * and programs, 1 for SFTP, 1 reserved for killing programs that overran.
 */
const EXEC_CHANNELS = 8;

/** How long `close()` waits for the server to acknowledge the disconnect. */
const CLOSE_WAIT_MS = 1_000;

/** A {@link MachineSession} over one pooled SSH connection. */
export class SshMachine implements MachineSession {
  /** `user@host:port`. */
  readonly label: string;
  readonly #target: SshTarget;
  readonly #context: SshMachineContext;
  readonly #execs = new Semaphore(EXEC_CHANNELS);
  readonly #kills = new Semaphore(1);
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  /** The SFTP channel of a connection, opening or open. */
  #sftp: { client: Client; sftp: Promise<SFTPWrapper> } | undefined;
  /** This machine has accepted our credential at least once. */
  #proven = false;
  /** Time budget for re-establishing a dropped connection on next use. */
  #reconnectTimeoutMs = 0;
  /** The login user's home directory, once asked. */
  #home: string | undefined;
  /** The long-lived shell of the live connection (`undefined` inside: it could not start). */
  #shell: { client: Client; shell: Promise<RemoteShell | undefined> } | undefined;

  constructor(target: SshTarget, context: SshMachineContext) {
    this.label = `${target.username}@${target.host}:${target.port}`;
    this.#shellHost = { ...this.#shellHost, label: this.label };
    this.#target = target;
    this.#context = context;
  }

  /** Waits until the machine is usable (connecting if needed). */
  async open(options: SshSessionOptions): Promise<void> {
    this.#reconnectTimeoutMs = options.timeoutMs;
    await this.#connection(options);
  }

  /** {@inheritDoc MachineSession.homeDir} */
  async homeDir(): Promise<string> {
    if (this.#home !== undefined) return this.#home;
    const shell = await this.#remoteShell(await this.#connection());
    if (shell !== undefined) {
      this.#home = shell.home;
      return this.#home;
    }
    // SFTP sessions start in the login user's home directory.
    const { client, sftp } = await this.#sftpChannel();
    this.#home = await new Promise<string>((resolve, reject) =>
      sftp.realpath('.', (error, path) =>
        error
          ? reject(this.#failure(client, 'cannot find the home directory', error))
          : resolve(path),
      ),
    );
    return this.#home;
  }

  /** {@inheritDoc MachineSession.prepareDir} */
  async prepareDir(request: PrepareRequest): Promise<ClaimResult> {
    const dir = request.chain.at(-1) ?? request.base;
    const files = request.files ?? [];
    const client = await this.#connection();
    this.#openSftpAhead(client);
    const shell = await this.#remoteShell(client);
    if (shell === undefined) {
      const claim = parseClaim(
        (await this.#command(standalone(claimCall(request)))).stdout,
        request,
      );
      if (!claim.ok) return claim;
      if (claim.existed && (request.stale ?? []).length > 0) {
        const stale = (request.stale ?? []).map((name) => posix.join(dir, name));
        await this.#command(shellJoin(['rm', '-f', '--', ...stale]));
      }
      await Promise.all(files.map((f) => this.writeFile(posix.join(dir, f.name), f.data, f.mode)));
      return claim;
    }
    // One request: the claim, then (only when it succeeded) removals and writes.
    const inline = files.filter((f) => byteLength(f.data) <= INLINE_FILE_BYTES);
    const answer = await this.#shellCall(
      shell,
      Buffer.concat([
        Buffer.from(`${claimCall(request)}\n`),
        ...prepareCode(dir, request.stale ?? [], inline),
      ]),
      `preparing ${dir}`,
    );
    const failed = /^write (\d+)$/.exec(answer);
    if (failed !== null) {
      const name = inline[Number(failed[1])]?.name ?? '?';
      const reason = `cannot write ${posix.join(dir, name)} (is the disk full?)`;
      throw new RemoteError(this.label, 'command', reason, true);
    }
    const claim = parseClaim(answer, request);
    if (claim.ok) {
      const large = files.filter((f) => !inline.includes(f));
      await Promise.all(large.map((f) => this.writeFile(posix.join(dir, f.name), f.data, f.mode)));
    }
    return claim;
  }

  /** {@inheritDoc MachineSession.ownsDir} */
  async ownsDir(dir: string, markFile: string, mark: string): Promise<boolean> {
    const call = ownsCall(dir, markFile, mark);
    const shell = await this.#remoteShell(await this.#connection());
    const answer =
      shell === undefined
        ? (await this.#command(standalone(call))).stdout.trim()
        : await this.#shellCall(shell, call, `checking ${dir}`);
    return answer === 'yes';
  }

  /** {@inheritDoc MachineSession.removeDir} */
  async removeDir(dir: string, emptyParent?: string): Promise<void> {
    const parent =
      emptyParent === undefined
        ? ''
        : ` && { ${shellJoin(['rmdir', '--', emptyParent])} 2>/dev/null; true; }`;
    await this.#command(`${shellJoin(['rm', '-rf', '--', dir])}${parent}`);
  }

  /** {@inheritDoc MachineSession.removeOwnedDir} */
  async removeOwnedDir(
    dir: string,
    markFile: string,
    mark: string,
    emptyParent?: string,
  ): Promise<boolean> {
    const call = removeCall(dir, markFile, mark, emptyParent);
    const shell = await this.#remoteShell(await this.#connection());
    const answer = parseRemoval(
      shell === undefined
        ? (await this.#command(standalone(call))).stdout
        : await this.#shellCall(shell, call, `removing ${dir}`),
      dir,
    );
    if ('failure' in answer) throw new RemoteError(this.label, 'command', answer.failure, true);
    return answer.removed;
  }

  /** {@inheritDoc MachineSession.killTagged} */
  async killTagged(tokens: readonly string[], graceMs: number): Promise<KilledGroups> {
    const args = killTaggedArgs(tokens, graceMs);
    const exit = await this.#command(shellJoin(['sh', '-c', KILL_TAGGED_SCRIPT, 'sh', ...args]));
    return parseKilled(exit.stdout);
  }

  /** {@inheritDoc MachineSession.writeFile} */
  async writeFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
    const { client, sftp } = await this.#sftpChannel();
    const bytes =
      typeof data === 'string'
        ? Buffer.from(data)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    try {
      if (bytes.length <= PIPELINED_WRITE_BYTES) {
        await writePipelined(sftp, path, bytes, mode);
        this.#context.countRoundTrip();
        this.#context.countRoundTrip();
      } else {
        const removed = unlinkAhead(sftp, path);
        await sftpCall((done) => sftp.writeFile(path, bytes, { mode, flag: 'wx' }, done));
        await removed;
        // The file is new (exclusive create): its mode was reduced by the umask.
        await sftpCall((done) => sftp.chmod(path, mode, done));
        for (let i = 0; i < 4; i++) this.#context.countRoundTrip();
      }
    } catch (error) {
      throw this.#failure(client, `cannot write ${path}`, error as Error);
    }
  }

  /** {@inheritDoc MachineSession.readFile} */
  async readFile(path: string): Promise<Buffer | undefined> {
    const { client, sftp } = await this.#sftpChannel();
    try {
      return await readPipelined(sftp, path, () => this.#context.countRoundTrip());
    } catch (error) {
      if ((error as { code?: number }).code === ssh2.utils.sftp.STATUS_CODE.NO_SUCH_FILE) {
        return undefined;
      }
      throw this.#failure(client, `cannot read ${path}`, error as Error);
    }
  }

  /** {@inheritDoc MachineSession.run} */
  async run(request: RunRequest): Promise<RunResult> {
    request.signal?.throwIfAborted();
    const client = await this.#connection();
    this.#openSftpAhead(client);
    const shell = await this.#remoteShell(client);
    const { install, ...rest } = request;
    if (
      shell !== undefined &&
      (install === undefined || install.data.length <= INLINE_FILE_BYTES)
    ) {
      return runInShell(this.#shellHost, shell, request);
    }
    if (install !== undefined) await this.writeFile(request.program, install.data, install.mode);
    if (shell !== undefined) return runInShell(this.#shellHost, shell, rest);
    this.#context.countChannel();
    this.#context.countRoundTrip();
    const killGroup = (pgid: number, signal: StopSignal): Promise<void> =>
      this.#killGroup(client, pgid, signal);
    return this.#execs.use(() => runProgram(client, this.label, rest, killGroup));
  }

  /** What a program run through the remote shell needs from this machine. */
  readonly #shellHost: ShellRunHost = {
    label: '',
    shell: async (deadline) => {
      const timeoutMs = Math.max(0, deadline - performance.now());
      const client = await this.#connection({ timeoutMs });
      const shell = await this.#remoteShell(client);
      if (shell === undefined) {
        throw new RemoteError(this.label, 'command', 'the remote shell did not start again', false);
      }
      return shell;
    },
    currentShell: () => this.#currentShell,
    sftp: async () => (await this.#sftpChannel()).sftp,
    countOutputRead: () => this.#context.countOutputRead(),
  };

  /** The started shell of the live connection, if any. */
  #currentShell: RemoteShell | undefined;

  /**
   * The long-lived shell of `client` (started by the connect probe, or again
   * when it was lost); `undefined` when it cannot start there (every step
   * then opens its own exec channel).
   */
  #remoteShell(client: Client): Promise<RemoteShell | undefined> {
    if (!this.#context.remoteShell) return Promise.resolve(undefined);
    if (this.#shell?.client === client) return this.#shell.shell;
    return this.#startShell(client).catch(() => undefined);
  }

  /**
   * Starts the shell on `client` and makes it the one {@link #remoteShell}
   * hands out. Rejects when the account cannot run a command at all.
   */
  #startShell(client: Client): Promise<RemoteShell | undefined> {
    const starting = new Promise<RemoteShell | undefined>((resolve, reject) => {
      this.#context.countChannel();
      // ssh2 throws "Not connected" synchronously when the socket is gone.
      client.exec('exec /bin/sh -s', (error, channel) => {
        if (error) reject(new Error(`cannot open a session channel: ${error.message}`));
        else RemoteShell.start(channel, () => this.#context.countRoundTrip()).then(resolve, reject);
      });
    });
    const shell = starting.catch(() => undefined);
    this.#shell = { client, shell };
    void shell.then((started) => {
      if (started === undefined || this.#shell?.client !== client) return;
      this.#currentShell = started;
      started.onLost(() => {
        if (this.#currentShell === started) this.#currentShell = undefined;
        if (this.#shell?.client === client) this.#shell = undefined;
      });
    });
    return starting;
  }

  /** The connect probe when steps run through the shell: starting it proves the account runs commands. */
  async #probe(client: Client): Promise<void> {
    await this.#startShell(client);
  }

  /**
   * Starts opening the SFTP channel of `client` if it is not open: a step
   * that may read or follow files soon finds it ready. A failure is met
   * again, with its error, by the step that needs the channel.
   */
  #openSftpAhead(client: Client): void {
    if (this.#sftp?.client === client || this.#client !== client) return;
    this.#sftp = { client, sftp: this.#openSftp(client) };
    this.#sftp.sftp.catch(() => {});
  }

  /** Disconnects; a later use would connect again. */
  async close(): Promise<void> {
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    this.#sftp = undefined;
    this.#shell = undefined;
    this.#currentShell?.close();
    this.#currentShell = undefined;
    if (client === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }

  /** The live client; connects (sharing an attempt already under way) when there is none. */
  async #connection(options?: SshSessionOptions): Promise<Client> {
    const opts = options ?? { timeoutMs: this.#reconnectTimeoutMs };
    const deadline = performance.now() + opts.timeoutMs;
    for (;;) {
      if (this.#client !== undefined) return this.#client;
      const joined = this.#connecting !== undefined;
      this.#connecting ??= this.#startConnect(opts, deadline);
      try {
        return await abortable(this.#connecting, opts.signal);
      } catch (error) {
        // An attempt started by another caller may have had an earlier deadline than ours.
        const retry =
          joined &&
          error instanceof RemoteError &&
          !error.permanent &&
          performance.now() < deadline;
        if (!retry) throw error;
      }
    }
  }

  #startConnect(options: SshSessionOptions, deadline: number): Promise<Client> {
    const connecting: Promise<Client> = this.#connect(options, deadline).finally(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    // Callers may stop waiting (abort); the outcome must not become an unhandled rejection.
    connecting.catch(() => {});
    return connecting;
  }

  async #connect(options: SshSessionOptions, deadline: number): Promise<Client> {
    const { host, port, username, privateKeyPath } = this.#target;
    const context = this.#context;
    const credentials = await context.credentials.load(this.label, privateKeyPath, context.agent);
    this.#checkPlanHostKey();
    const attempt = (): Promise<Client> =>
      connectOnce({
        host,
        port,
        username,
        credentials,
        expectedHostKey: this.#expectedHostKey(),
        timeoutMs: attemptTimeout(deadline),
        onHostKey: (line) => this.#pin(line),
        onHandshake: () => context.countHandshake(),
        signal: context.closing,
        ...(context.remoteShell && { probe: (client: Client) => this.#probe(client) }),
      });
    const client = await connectWithRetry(
      this.label,
      () => context.limitHandshake(host, port, attempt, options.background ?? false),
      {
        deadline,
        authGraceMs: options.authGraceMs ?? context.authGraceMs,
        proven: () => this.#proven,
        signal: context.closing,
        ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
      },
    );
    return this.#adopt(client);
  }

  #adopt(client: Client): Client {
    if (this.#context.closing.aborted) {
      client.end();
      throw this.#context.closing.reason;
    }
    this.#proven = true;
    this.#client = client;
    if (!this.#context.remoteShell) {
      // The attempt ran `true` on an exec channel of its own.
      this.#context.countChannel();
      this.#context.countRoundTrip();
    }
    client.on('close', () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#sftp = undefined;
    });
    return client;
  }

  #checkPlanHostKey(): void {
    const planKey = this.#target.expectedHostKey;
    const problem = planKey === undefined ? undefined : invalidHostKeyReason(planKey);
    if (problem !== undefined) throw new RemoteError(this.label, 'host-key', problem, true);
  }

  /** The plan's `host_key` wins over the key pinned for the run. */
  #expectedHostKey(): ExpectedHostKey | undefined {
    const { host, port, expectedHostKey } = this.#target;
    if (expectedHostKey !== undefined) return { key: expectedHostKey, source: 'plan' };
    const pinned = this.#context.hostKeys.get(host, port);
    return pinned === undefined ? undefined : { key: pinned, source: 'pinned' };
  }

  #pin(line: string): void {
    const { host, port } = this.#target;
    const { hostKeys } = this.#context;
    if (hostKeys.get(host, port) !== line) hostKeys.pin(host, port, line);
  }

  /** Runs a helper command; a non-zero exit is a permanent `command` error. */
  async #command(command: string): Promise<CommandExit> {
    const client = await this.#connection();
    const shell = await this.#remoteShell(client);
    if (shell !== undefined) return this.#shellCommand(shell, command);
    this.#context.countChannel();
    this.#context.countRoundTrip();
    const exit = await this.#execs
      .use(() => execCommand(client, command))
      .catch((error: Error) => {
        throw this.#failure(client, `cannot run ${command}`, error);
      });
    if (exit.code === 0) return exit;
    if (exit.code === undefined) {
      const reason = `the connection was lost during ${command}`;
      throw new RemoteError(this.label, 'command', reason, false);
    }
    const stderr = exit.stderr.trim();
    const status = exit.code === null ? `signal ${exit.signal}` : `exit status ${exit.code}`;
    const reason = `${command} failed (${status})${stderr === '' ? '' : `: ${stderr}`}`;
    throw new RemoteError(this.label, 'command', reason, true);
  }

  /** A function call through the remote shell (see `RemoteShell.call`): its answer. */
  async #shellCall(shell: RemoteShell, code: string | Buffer, what: string): Promise<string> {
    return shell.call(code).catch((error: Error) => {
      if (!(error instanceof ShellLostError)) throw error;
      throw new RemoteError(this.label, 'command', `the connection was lost while ${what}`, false);
    });
  }

  /** {@link #command} through the remote shell. */
  async #shellCommand(shell: RemoteShell, command: string): Promise<CommandExit> {
    const exit = await shell.command(command).catch((error: Error) => {
      if (!(error instanceof ShellLostError)) throw error;
      const reason = `the connection was lost during ${command}`;
      throw new RemoteError(this.label, 'command', reason, false);
    });
    if (exit.code === 0) return { code: 0, signal: null, stdout: exit.stdout, stderr: exit.stderr };
    const stderr = exit.stderr.trim();
    const reason = `${command} failed (exit status ${exit.code})${stderr === '' ? '' : `: ${stderr}`}`;
    throw new RemoteError(this.label, 'command', reason, true);
  }

  async #killGroup(client: Client, pgid: number, signal: StopSignal): Promise<void> {
    const group = shellJoin(['kill', '-s', signal, '--', `-${pgid}`]);
    // Fall back to the process alone if the server did not make the session its own group.
    const alone = shellJoin(['kill', '-s', signal, String(pgid)]);
    this.#context.countChannel();
    await this.#kills.use(() => execCommand(client, `${group} 2>/dev/null || ${alone}`));
  }

  /** The SFTP channel of the live connection, opened on first use. */
  async #sftpChannel(): Promise<{ client: Client; sftp: SFTPWrapper }> {
    const client = await this.#connection();
    if (this.#sftp?.client !== client) this.#sftp = { client, sftp: this.#openSftp(client) };
    const sftp = await this.#sftp.sftp.catch((error: Error) => {
      throw this.#failure(
        client,
        'cannot open an SFTP channel (is "Subsystem sftp" enabled in sshd_config?)',
        error,
      );
    });
    return { client, sftp };
  }

  #openSftp(client: Client): Promise<SFTPWrapper> {
    this.#context.countChannel();
    const opening = new Promise<SFTPWrapper>((resolve, reject) => {
      // ssh2 throws "Not connected" synchronously when the socket is gone; the executor rejects.
      client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
    });
    const forget = (): void => {
      if (this.#sftp?.sftp === opening) this.#sftp = undefined;
    };
    opening.then((sftp) => sftp.once('close', forget), forget);
    return opening;
  }

  /** A failure of `client`: not permanent when the connection was lost meanwhile. */
  #failure(client: Client, what: string, error: Error): RemoteError {
    const lost = this.#client !== client;
    const reason = lost
      ? `${what}: the connection was lost (${error.message})`
      : `${what}: ${error.message}`;
    return new RemoteError(this.label, 'command', reason, !lost, { cause: error });
  }
}
