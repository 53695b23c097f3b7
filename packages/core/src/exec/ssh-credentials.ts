/**
 * Which credential a connection uses: the plan's private key file, else the
 * ssh agent. Problems here are local and final (retrying cannot fix them).
 */
import { readFile } from 'node:fs/promises';
import ssh2, { type ParsedKey } from 'ssh2';
import { RemoteError } from '../errors.js';
import type { SshCredentials } from './ssh-connect.js';

/**
 * Reads and checks the private key at `privateKeyPath`, or falls back to the
 * agent socket. Rejects with a permanent `auth` `RemoteError` when neither is usable.
 */
export async function loadCredentials(
  label: string,
  privateKeyPath: string | undefined,
  agentSocket: string | undefined,
): Promise<SshCredentials> {
  if (privateKeyPath !== undefined) {
    return { kind: 'key', path: privateKeyPath, key: await readKey(label, privateKeyPath) };
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

async function readKey(label: string, path: string): Promise<Buffer> {
  const key = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === 'ENOENT' ? 'no such file' : error.message;
    throw new RemoteError(label, 'auth', `cannot read private key ${path}: ${why}`, true, {
      cause: error,
    });
  });
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) {
    const why = /passphrase/i.test(parsed.message)
      ? 'it is protected by a passphrase; add it to the ssh agent (ssh-add) and leave localsshkeypath unset'
      : parsed.message;
    throw new RemoteError(label, 'auth', `cannot use private key ${path}: ${why}`, true);
  }
  // ssh2 returns an array for some key formats, which its types do not declare.
  const first: ParsedKey | undefined = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first === undefined || !first.isPrivateKey()) {
    throw new RemoteError(
      label,
      'auth',
      `cannot use private key ${path}: it holds no private key`,
      true,
    );
  }
  return key;
}
