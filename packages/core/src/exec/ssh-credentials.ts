/**
 * Which credential a connection uses: the plan's private key file, else the
 * ssh agent. Problems here are local and final (retrying cannot fix them).
 * A key file is read and parsed once per pool, however many machines and
 * connect attempts use it, and handed to ssh2 parsed.
 */
import { readFile } from 'node:fs/promises';
import ssh2, { type ParsedKey } from 'ssh2';
import { RemoteError } from '../errors.js';
import type { SshCredentials } from './ssh-connect.js';

/** Why a key file cannot be used. */
interface KeyProblem {
  readonly reason: string;
  readonly cause?: unknown;
}

/** The private keys of one pool, each read and parsed on first use. */
export class CredentialCache {
  readonly #keys = new Map<string, Promise<ParsedKey | KeyProblem>>();

  /**
   * The private key at `privateKeyPath`, or the agent socket when there is
   * no key file. Rejects with a permanent `auth` `RemoteError` (naming
   * `label`, the machine) when neither is usable.
   */
  async load(
    label: string,
    privateKeyPath: string | undefined,
    agentSocket: string | undefined,
  ): Promise<SshCredentials> {
    if (privateKeyPath !== undefined) {
      let reading = this.#keys.get(privateKeyPath);
      if (reading === undefined) {
        reading = readKey(privateKeyPath);
        this.#keys.set(privateKeyPath, reading);
      }
      const key = await reading;
      if ('reason' in key) {
        throw new RemoteError(label, 'auth', key.reason, true, {
          ...(key.cause !== undefined && { cause: key.cause }),
        });
      }
      return { kind: 'key', path: privateKeyPath, key };
    }
    if (agentSocket !== undefined && agentSocket !== '')
      return { kind: 'agent', socket: agentSocket };
    throw new RemoteError(
      label,
      'auth',
      'no private key given (localsshkeypath) and no ssh agent (SSH_AUTH_SOCK is not set)',
      true,
    );
  }
}

async function readKey(path: string): Promise<ParsedKey | KeyProblem> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
    return { reason: `cannot read private key ${path}: ${why}`, cause: error };
  }
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) {
    const why = /passphrase/i.test(parsed.message)
      ? 'it is protected by a passphrase; add it to the ssh agent (ssh-add) and leave localsshkeypath unset'
      : parsed.message;
    return { reason: `cannot use private key ${path}: ${why}` };
  }
  // ssh2 returns an array for some key formats, which its types do not declare.
  const first: ParsedKey | undefined = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first === undefined || !first.isPrivateKey()) {
    return { reason: `cannot use private key ${path}: it holds no private key` };
  }
  return first;
}
