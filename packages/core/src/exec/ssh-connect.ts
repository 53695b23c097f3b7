/**
 * One SSH connection attempt, stage by stage: TCP connect, SSH handshake
 * (with host key check), authentication, and a first command (`true`, or
 * whatever the caller's probe starts: the machine's long-lived shell).
 * A failure names the stage it happened in; the retry policy lives in
 * `ssh-retry.ts`.
 */
import { connect as tcpConnect } from 'node:net';
import ssh2, {
  type AuthHandlerMiddleware,
  type Client,
  type ConnectConfig,
  type IdentityCallback,
  type ParsedKey,
} from 'ssh2';
import { onAbort } from '../abort.js';
import { CloudbootError, type ConnectStage } from '../errors.js';
import {
  type ExpectedHostKey,
  hostKeyAlgorithms,
  hostKeyLine,
  hostKeyMatches,
  hostKeyMismatchMessage,
} from './ssh-host-key.js';
import { execCommand } from './ssh-run.js';

/** What an attempt authenticates with. */
export type SshCredentials =
  | { readonly kind: 'key'; readonly path: string; readonly key: ParsedKey }
  | { readonly kind: 'agent'; readonly socket: string };

/** Everything one attempt needs. */
export interface SshAttempt {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly credentials: SshCredentials;
  /** The key the server must present; `undefined` on first use (any key is accepted and reported). */
  readonly expectedHostKey: ExpectedHostKey | undefined;
  /** The whole attempt fails after this long, in the stage it reached. */
  readonly timeoutMs: number;
  /** Called with the server's key (OpenSSH line) once it has been accepted. */
  readonly onHostKey: (line: string) => void;
  /** Called when a key exchange completed. */
  readonly onHandshake: () => void;
  /** Ends the attempt at once; it rejects with the signal's reason. */
  readonly signal: AbortSignal;
  /**
   * The `command` stage: proves the account can run commands, rejecting
   * with the reason when it cannot. Default: runs `true`.
   */
  readonly probe?: (client: Client) => Promise<void>;
}

/**
 * A failed attempt: the stage, the reason in plain words, and whether
 * retrying can help. `connectWithRetry` turns the last one into a `RemoteError`.
 */
export class SshAttemptError extends CloudbootError {
  constructor(
    readonly stage: ConnectStage,
    readonly reason: string,
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super('SSH_ATTEMPT', `${stage}: ${reason}`, options);
  }
}

/** How often a live connection is probed, and how many missed probes close it. */
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;

/**
 * Makes one attempt. Resolves with an authenticated client that passed the
 * probe; rejects with an {@link SshAttemptError}. Auth refusals are reported
 * as not permanent here; the caller decides (see `ssh-retry.ts`).
 */
export function connectOnce(attempt: SshAttempt): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    const state = { stage: 'tcp' as ConnectStage, settled: false, hostKeyProblem: '' };
    const auth = authTracker(attempt);
    const socket = tcpConnect({ host: attempt.host, port: attempt.port });
    const settle = (error?: unknown): void => {
      if (state.settled) return;
      state.settled = true;
      clearTimeout(timer);
      cancelAbort();
      if (error === undefined) {
        resolve(client);
        return;
      }
      client.destroy();
      socket.destroy();
      reject(error);
    };
    const failIn = (stage: ConnectStage, reason: string, cause?: unknown): void => {
      // Every connection closes in the end: no error is built for an attempt that settled.
      if (!state.settled) settle(new SshAttemptError(stage, reason, false, { cause }));
    };
    const cancelAbort = onAbort(attempt.signal, () => settle(attempt.signal.reason));
    const timer = setTimeout(
      () => failIn(state.stage, `no answer within ${seconds(attempt.timeoutMs)}`),
      attempt.timeoutMs,
    );
    socket.setNoDelay(true);
    socket.once('error', (error) => {
      if (state.stage === 'tcp') failIn('tcp', socketReason(error), error);
    });
    socket.once('connect', () => {
      state.stage = 'handshake';
      const onMismatch = (problem: string): void => {
        state.hostKeyProblem = problem;
      };
      client.connect(clientConfig(attempt, socket, auth.handler, onMismatch));
    });
    // `once`: later key re-exchanges on the same connection are not new handshakes.
    client.once('handshake', () => {
      state.stage = 'auth';
      attempt.onHandshake();
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (error.level === 'agent') auth.agentFailed(error.message);
      else if (state.hostKeyProblem !== '')
        settle(new SshAttemptError('host-key', state.hostKeyProblem, true));
      else if (error.level === 'client-authentication') settle(auth.refusal());
      else failIn(state.stage, error.message, error);
    });
    client.once('close', () => failIn(state.stage, 'the server closed the connection'));
    client.once('ready', () => {
      state.stage = 'command';
      (attempt.probe ?? probe)(client).then(
        () => settle(),
        (error: Error) => failIn('command', error.message, error),
      );
    });
  });
}

function clientConfig(
  attempt: SshAttempt,
  socket: ConnectConfig['sock'],
  authHandler: AuthHandlerMiddleware,
  onMismatch: (problem: string) => void,
): ConnectConfig {
  const expected = attempt.expectedHostKey;
  const serverHostKey = hostKeyAlgorithms(expected?.key);
  return {
    sock: socket,
    username: attempt.username,
    authHandler,
    hostVerifier: (key: Buffer) => {
      if (expected !== undefined && !hostKeyMatches(expected.key, key)) {
        onMismatch(hostKeyMismatchMessage(expected, key));
        return false;
      }
      attempt.onHostKey(hostKeyLine(key));
      return true;
    },
    // The attempt has its own timer covering every stage.
    readyTimeout: 0,
    keepaliveInterval: KEEPALIVE_INTERVAL_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    ...(serverHostKey === undefined ? {} : { algorithms: { serverHostKey } }),
  } as ConnectConfig;
}

/**
 * Offers the one credential, remembers what the server said, and explains a
 * refusal like OpenSSH does ("… (publickey)": the methods the server accepts).
 */
function authTracker(attempt: SshAttempt): {
  handler: AuthHandlerMiddleware;
  agentFailed: (message: string) => void;
  refusal: () => SshAttemptError;
} {
  const { credentials, username } = attempt;
  const agent = credentials.kind === 'agent' ? new CountingAgent(credentials.socket) : undefined;
  let offered = false;
  let serverMethods: readonly string[] | null = null;
  let agentProblem = '';
  const handler: AuthHandlerMiddleware = (methodsLeft, _partialSuccess, next) => {
    if (offered) {
      serverMethods = methodsLeft;
      // ssh2 takes `false` as "no more methods"; @types/ssh2 does not declare it.
      (next as unknown as (done: false) => void)(false);
      return;
    }
    offered = true;
    next(
      agent === undefined
        ? { type: 'publickey', username, key: (credentials as { key: ParsedKey }).key }
        : { type: 'agent', username, agent },
    );
  };
  const refusal = (): SshAttemptError => {
    // An empty or broken agent is a local problem that waiting will not fix.
    const unusable =
      agentProblem !== '' ? agentProblem : agent?.keys === 0 ? 'it holds no keys' : '';
    if (unusable !== '') {
      return new SshAttemptError(
        'auth',
        `cannot use ${credentialName(credentials)}: ${unusable}`,
        true,
      );
    }
    // ssh2 does not pass on the server's methods after agent keys fail.
    const methods = serverMethods === null ? '' : ` (${serverMethods.join(',')})`;
    const refused = agent === undefined ? '' : 'every key of ';
    return new SshAttemptError(
      'auth',
      `the server refused ${refused}${credentialName(credentials)}${methods}`,
      false,
    );
  };
  const agentFailed = (message: string): void => {
    agentProblem = message;
  };
  return { handler, agentFailed, refusal };
}

/** An OpenSSH agent client that remembers how many keys the agent offered. */
class CountingAgent extends ssh2.OpenSSHAgent {
  /** Keys listed by the agent; `undefined` until asked. */
  keys: number | undefined;

  override getIdentities(callback: IdentityCallback<ParsedKey>): void {
    super.getIdentities((error, keys) => {
      this.keys = keys?.length ?? 0;
      callback(error, keys);
    });
  }
}

function credentialName(credentials: SshCredentials): string {
  return credentials.kind === 'key'
    ? `key ${credentials.path}`
    : `the ssh agent at ${credentials.socket}`;
}

/** Runs `true`: proves the account can run commands. Rejects with the reason. */
async function probe(client: Client): Promise<void> {
  const exit = await execCommand(client, 'true').catch((error: Error) => {
    throw new Error(`cannot open a session channel: ${error.message}`);
  });
  if (exit.code === 0) return;
  const status = exit.code ?? exit.signal ?? 'no exit status';
  throw new Error(
    `"true" failed (${status})${exit.stderr === '' ? '' : `: ${exit.stderr.trim()}`}`,
  );
}

/** Plain words for a socket error. */
function socketReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host name (${error.code})`;
    default:
      return error.message;
  }
}

/** `1.5 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
