/**
 * The contract between the engine and a machine it configures. A
 * {@link MachineSession} is one open channel to one machine (a local
 * process runner, or one SSH connection reused for every step of every
 * service on that machine). The engine never knows which kind it has.
 */

/** Where a service's programs run. */
export type MachineTarget = LocalTarget | SshTarget;

/** Programs run on this machine as child processes; no SSH. */
export interface LocalTarget {
  readonly kind: 'local';
}

/** Programs run on a remote machine over SSH. */
export interface SshTarget {
  readonly kind: 'ssh';
  /** Hostname or IP address to connect to. */
  readonly host: string;
  /** TCP port of sshd (plan key `ssh_port`, default 22). */
  readonly port: number;
  /** Login user (plan key `ssh_username`; default: the local user name). */
  readonly username: string;
  /** Private key file (plan key `localsshkeypath`); when absent the ssh agent is used. */
  readonly privateKeyPath?: string;
  /**
   * Host key the plan expects (plan key `host_key`, OpenSSH public key form
   * `ssh-ed25519 AAAA…` or a `SHA256:…` fingerprint). When absent the first key
   * seen is trusted and pinned for the run.
   */
  readonly expectedHostKey?: string;
}

/** One program invocation. */
export interface RunRequest {
  /** Program to run: a path on the machine, or a command name looked up in PATH. */
  readonly program: string;
  /** argv after the program; passed verbatim (remote executors quote every word). */
  readonly args: readonly string[];
  /** Working directory on the machine. */
  readonly cwd: string;
  /** The program is killed after this many milliseconds. */
  readonly timeoutMs: number;
  /** Aborts the program (it is killed) when signalled. */
  readonly signal?: AbortSignal;
  /** Receives output as it arrives (used for per-service log files). */
  readonly onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Variables added to the program's environment (names must be shell names). */
  readonly env?: Readonly<Record<string, string>>;
  /** Told the program's process group as soon as it is known. */
  readonly onStart?: (pgid: number) => void;
  /**
   * Upload first: `program` (a path) is written with these bytes and mode,
   * replacing any file there, in the same request as the start where the
   * machine allows. A failed write rejects with `RemoteError`.
   */
  readonly install?: { readonly data: Uint8Array; readonly mode: number };
}

/** What a finished program did. */
export interface RunResult {
  /** Exit status, or `null` when it was killed by a signal or timed out. */
  readonly exitCode: number | null;
  /** Name of the signal that ended it, if any. */
  readonly signal: string | null;
  /** True when it ran past `timeoutMs` and was killed. */
  readonly timedOut: boolean;
  /** Last few KiB of stdout. */
  readonly stdoutTail: string;
  /** Last few KiB of stderr. */
  readonly stderrTail: string;
  /** Wall time of the program, measured by the executor. */
  readonly durationMs: number;
}

/** An open channel to one machine. Methods reject with `RemoteError` when the machine cannot be used. */
export interface MachineSession {
  /** `local` or `user@host:port`, for messages. */
  readonly label: string;
  /** Writes a whole file (replacing it) with the given mode. */
  writeFile(path: string, data: string | Uint8Array, mode: number): Promise<void>;
  /** Reads a whole file; `undefined` when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Runs a program to completion (or timeout). Never rejects for a non-zero exit. */
  run(request: RunRequest): Promise<RunResult>;
  /** The login user's home directory on the machine. */
  homeDir(): Promise<string>;
  /**
   * Makes (or finds) a private directory and claims it with a mark file (see
   * {@link ClaimRequest}), then, once it is claimed, removes the `stale`
   * names in it and writes the `files` (see {@link PrepareRequest}), as one
   * request where the machine allows. Never follows a symbolic link to a
   * level and never uses a directory of another user. Resolves with a
   * refusal (writing nothing) rather than rejecting when a directory cannot
   * be used; rejects with `RemoteError` when a file cannot be written.
   */
  prepareDir(request: PrepareRequest): Promise<ClaimResult>;
  /**
   * True when `dir` is a real directory (not a symbolic link) of the login
   * user holding `markFile` with exactly `mark`. Creates nothing.
   */
  ownsDir(dir: string, markFile: string, mark: string): Promise<boolean>;
  /**
   * Removes a directory tree (succeeds if it is already gone), then
   * `emptyParent` if it is now empty (it is left alone otherwise).
   */
  removeDir(dir: string, emptyParent?: string): Promise<void>;
  /**
   * {@link ownsDir} and, when it is true, {@link removeDir}, in one request
   * to the machine; resolves with whether the directory was this run's (and
   * is now removed). A directory that is not is left alone.
   */
  removeOwnedDir(
    dir: string,
    markFile: string,
    mark: string,
    emptyParent?: string,
  ): Promise<boolean>;
  /**
   * Stops every process group that has a process whose environment holds
   * `CLOUDBOOT_PROGRAM=<token>` for one of `tokens`: SIGTERM, then SIGKILL
   * to what is left after `graceMs`. Resolves with what was signalled.
   */
  killTagged(tokens: readonly string[], graceMs: number): Promise<KilledGroups>;
}

/** The environment variable that tags a program cloudboot started (see `RunStore.recordProcess`). */
export const PROGRAM_TAG = 'CLOUDBOOT_PROGRAM';

/** Process groups {@link MachineSession.killTagged} signalled. */
export interface KilledGroups {
  /** Groups sent SIGTERM. */
  readonly terminated: readonly number[];
  /** Groups still there after the grace period, sent SIGKILL. */
  readonly killed: readonly number[];
}

/**
 * What {@link MachineSession.prepareDir} claims to do: make sure `base` is a
 * directory the login user can write (creating missing levels, mode 0700),
 * then walk `chain` (absolute paths, each inside the one before, the first
 * inside `base`): a level that is missing is created with mode 0700; one that
 * exists must be a real directory owned by the login user. The last level is
 * then claimed: it is ours when it holds `markFile` with exactly `mark`, or
 * when it is empty (the mark is then written, mode 0600).
 */
export interface ClaimRequest {
  readonly base: string;
  readonly chain: readonly string[];
  /** File name of the ownership mark inside the last level. */
  readonly markFile: string;
  /** Content of the mark (one line, without the newline). */
  readonly mark: string;
}

/** A file {@link MachineSession.prepareDir} writes into the directory it claimed. */
export interface DirFile {
  /** File name inside the last level (no `/`). */
  readonly name: string;
  readonly data: string | Uint8Array;
  /** Exact mode of the file, whatever the umask and whether it existed. */
  readonly mode: number;
}

/** What {@link MachineSession.prepareDir} is asked to do: a claim, then removals and writes. */
export interface PrepareRequest extends ClaimRequest {
  /** Names removed from the last level when it existed already (left by an earlier operation). */
  readonly stale?: readonly string[];
  /** Files written into the last level once it is claimed (replacing any of the same name). */
  readonly files?: readonly DirFile[];
}

/**
 * Why a directory cannot be used: `symlink`, `not-directory`, `foreign`
 * (another user's, `uid`), `unwritable` (cannot be created or written), or
 * `taken` (the last level holds files and not this mark).
 */
export type DirRefusalReason = 'symlink' | 'not-directory' | 'foreign' | 'unwritable' | 'taken';

/** The outcome of {@link MachineSession.prepareDir}. */
export type ClaimResult =
  | {
      readonly ok: true;
      /** The last level existed already with this mark (left by an earlier operation of the run). */
      readonly existed: boolean;
    }
  | {
      readonly ok: false;
      readonly reason: DirRefusalReason;
      /** The directory refused (for the base, the existing level that stopped it). */
      readonly path: string;
      /** True when the problem is with the base (or the levels above it). */
      readonly inBase: boolean;
      /** Owner of a `foreign` directory. */
      readonly uid?: number;
    };

/** Maximum bytes kept of each output stream for error messages. */
export const OUTPUT_TAIL_BYTES = 4096;
