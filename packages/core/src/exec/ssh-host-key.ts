/**
 * Host key trust for SSH connections: trust on first use, pinned per run.
 * cloudboot never reads or writes `~/.ssh/known_hosts`; the keys it has seen
 * live in the run's own store ({@link HostKeyStore}).
 */
import { createHash } from 'node:crypto';

/** Pinned host keys of a run (implemented by the SQLite store; {@link MemoryHostKeyStore} for tests). */
export interface HostKeyStore {
  /** The pinned key of `host:port` as an OpenSSH public key line, if any. */
  get(host: string, port: number): string | undefined;
  /** Pins `key` (an OpenSSH public key line) for `host:port`, replacing any earlier one. */
  pin(host: string, port: number, key: string): void;
}

/** A {@link HostKeyStore} that lives in memory only. */
export class MemoryHostKeyStore implements HostKeyStore {
  readonly #keys = new Map<string, string>();

  /** {@inheritDoc HostKeyStore.get} */
  get(host: string, port: number): string | undefined {
    return this.#keys.get(`${host}:${port}`);
  }

  /** {@inheritDoc HostKeyStore.pin} */
  pin(host: string, port: number, key: string): void {
    this.#keys.set(`${host}:${port}`, key);
  }
}

/** Where the key a server must present comes from. */
export type HostKeySource = 'plan' | 'pinned';

/** The key a server must present, and where that expectation comes from. */
export interface ExpectedHostKey {
  /** OpenSSH public key line, or a `SHA256:` fingerprint (plan only). */
  readonly key: string;
  readonly source: HostKeySource;
}

const FINGERPRINT_PREFIX = 'SHA256:';

/** The OpenSSH public key line (`type base64`) of a raw SSH public key blob. */
export function hostKeyLine(blob: Buffer): string {
  return `${blobKeyType(blob)} ${blob.toString('base64')}`;
}

/** The `SHA256:…` fingerprint (as `ssh-keygen -l` prints it) of an OpenSSH public key line or raw blob. */
export function hostKeyFingerprint(key: string | Buffer): string {
  const blob = typeof key === 'string' ? parseKeyLine(key)?.blob : key;
  if (blob === undefined) throw new TypeError(`not an OpenSSH public key line: ${key}`);
  const digest = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return `${FINGERPRINT_PREFIX}${digest}`;
}

/**
 * Why `expected` (from the plan's `host_key`) cannot be used, or `undefined`
 * when it is an OpenSSH public key line or a `SHA256:` fingerprint.
 */
export function invalidHostKeyReason(expected: string): string | undefined {
  if (isFingerprint(expected) || parseKeyLine(expected) !== undefined) return undefined;
  return `host_key ${JSON.stringify(expected)} is neither an OpenSSH public key ("ssh-ed25519 AAAA…") nor a SHA256: fingerprint`;
}

/** Whether the server's key `offered` (raw blob) is the expected one. */
export function hostKeyMatches(expected: string, offered: Buffer): boolean {
  if (isFingerprint(expected)) {
    return expected.replace(/=+$/, '') === hostKeyFingerprint(offered);
  }
  const parsed = parseKeyLine(expected);
  return parsed?.blob.equals(offered) === true;
}

/**
 * Host key algorithms to offer so that a server with several host keys
 * presents the one that was pinned; `undefined` (ssh2's defaults) when only a
 * fingerprint or nothing is known.
 */
export function hostKeyAlgorithms(expected: string | undefined): string[] | undefined {
  const type = expected === undefined ? undefined : parseKeyLine(expected)?.type;
  if (type === undefined) return undefined;
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

/** Explains a host key mismatch: old and new fingerprints, what it may mean, how to proceed. */
export function hostKeyMismatchMessage(expected: ExpectedHostKey, offered: Buffer): string {
  const oldPrint = isFingerprint(expected.key) ? expected.key : hostKeyFingerprint(expected.key);
  const newPrint = hostKeyFingerprint(offered);
  const head =
    expected.source === 'pinned'
      ? `the host key changed: this run pinned ${oldPrint}, the server now presents ${newPrint}`
      : `the host key does not match the plan: host_key is ${oldPrint}, the server presents ${newPrint}`;
  return (
    `${head}. Either the machine was reinstalled or someone is intercepting the connection. ` +
    `If the change is expected, set host_key: ${hostKeyLine(offered)} for this service in the plan.`
  );
}

function isFingerprint(key: string): boolean {
  return key.startsWith(FINGERPRINT_PREFIX);
}

/** Splits `type base64 [comment]`; `undefined` unless the blob's embedded type matches. */
function parseKeyLine(line: string): { type: string; blob: Buffer } | undefined {
  const [type, base64] = line.trim().split(/\s+/);
  if (type === undefined || base64 === undefined || !/^[A-Za-z0-9+/]+=*$/.test(base64)) {
    return undefined;
  }
  const blob = Buffer.from(base64, 'base64');
  return blobKeyType(blob) === type ? { type, blob } : undefined;
}

/** The key type string at the start of an SSH public key blob (`uint32 length`, then the name). */
function blobKeyType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}
