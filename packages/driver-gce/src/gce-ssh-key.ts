/**
 * The public half of the SSH key cloudboot logs in with, for the `ssh-keys`
 * metadata item: `<path>.pub` when it exists, else derived from the private
 * key (OpenSSH format, whose header carries the public key in clear even
 * when the private part is encrypted, or PEM/PKCS#8 through `node:crypto`).
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/** SSH wire encoding: a uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** An SSH mpint from unsigned big-endian bytes (a leading zero when the top bit is set). */
function mpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return sshString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), trimmed]) : trimmed);
}

const CURVES: Readonly<Record<string, string>> = {
  'P-256': 'nistp256',
  'P-384': 'nistp384',
  'P-521': 'nistp521',
};

/** The public key blob of an OpenSSH-format private key (`openssh-key-v1`). */
function fromOpenSsh(pem: string): string {
  const body = pem.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const data = Buffer.from(body, 'base64');
  const magic = 'openssh-key-v1\0';
  if (data.subarray(0, magic.length).toString('latin1') !== magic) {
    throw new Error('not an openssh-key-v1 private key');
  }
  let at = magic.length;
  const next = (): Buffer => {
    const length = data.readUInt32BE(at);
    const value = data.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  next(); // cipher name
  next(); // kdf name
  next(); // kdf options
  at += 4; // number of keys
  const blob = next();
  const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
  return `${type} ${blob.toString('base64')}`;
}

/** The OpenSSH public key line of a PEM/PKCS#8 private key. */
function fromPem(pem: string): string {
  const jwk: JsonWebKey = createPublicKey(pem).export({ format: 'jwk' });
  const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
  let type: string;
  let parts: Buffer[];
  if (jwk.kty === 'RSA') {
    type = 'ssh-rsa';
    parts = [sshString(type), mpint(b64(jwk.e)), mpint(b64(jwk.n))];
  } else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    type = 'ssh-ed25519';
    parts = [sshString(type), sshString(b64(jwk.x))];
  } else if (jwk.kty === 'EC' && jwk.crv !== undefined && CURVES[jwk.crv] !== undefined) {
    const curve = CURVES[jwk.crv] ?? '';
    type = `ecdsa-sha2-${curve}`;
    const point = Buffer.concat([Buffer.from([4]), b64(jwk.x), b64(jwk.y)]);
    parts = [sshString(type), sshString(curve), sshString(point)];
  } else {
    throw new Error(`unsupported key type ${jwk.kty}${jwk.crv ? ` (${jwk.crv})` : ''}`);
  }
  return `${type} ${Buffer.concat(parts).toString('base64')}`;
}

/** The public key line (`type base64`) of a private key's text. @throws Error when it is not a key. */
export function publicKeyOf(privateKey: string): string {
  return privateKey.includes('BEGIN OPENSSH PRIVATE KEY')
    ? fromOpenSsh(privateKey)
    : fromPem(privateKey);
}

/**
 * The public key line for a private key file: the first line of
 * `<path>.pub` (type and key, comment dropped) when that file exists, else
 * derived from the private key.
 * @throws Error naming the file when neither can be read or parsed.
 */
export async function publicKeyFor(privateKeyPath: string): Promise<string> {
  const pub = await readFile(`${privateKeyPath}.pub`, 'utf8').catch(() => undefined);
  if (pub !== undefined) {
    const [type, key] = pub.trim().split(/\s+/);
    if (type !== undefined && key !== undefined) return `${type} ${key}`;
  }
  let text: string;
  try {
    text = await readFile(privateKeyPath, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read the SSH key ${privateKeyPath} (localsshkeypath): ${(error as Error).message}`,
    );
  }
  try {
    return publicKeyOf(text);
  } catch (error) {
    throw new Error(
      `cannot derive a public key from ${privateKeyPath} (localsshkeypath): ${(error as Error).message}; put the public key in ${privateKeyPath}.pub`,
    );
  }
}
