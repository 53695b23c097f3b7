import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { publicKeyFor } from './gce-ssh-key.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What ssh-keygen itself says the public key of a private key file is. */
function keygenPublic(path: string): string {
  const [type, key] = execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  return `${type} ${key}`;
}

describe('SSH public key for the ssh-keys metadata item', () => {
  it('derives it from an OpenSSH private key without the .pub file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloudboot-gce-ssh-'));
    const path = join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'c', '-f', path]);
    const fromPub = await publicKeyFor(path);
    expect(fromPub).toBe(
      readFileSync(`${path}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '),
    );
    unlinkSync(`${path}.pub`);
    expect(await publicKeyFor(path)).toBe(fromPub);
  });

  it('derives it from a PEM ed25519 key', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloudboot-gce-ssh-'));
    const path = join(dir, 'key.pem');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    // ssh-keygen cannot read PKCS#8 ed25519 keys: build the blob from the raw key.
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const blob = Buffer.concat([
      Buffer.from([0, 0, 0, 11]),
      Buffer.from('ssh-ed25519'),
      Buffer.from([0, 0, 0, 32]),
      raw,
    ]);
    expect(await publicKeyFor(path)).toBe(`ssh-ed25519 ${blob.toString('base64')}`);
  });

  it.each(['rsa', 'ec'] as const)('derives it from a PEM %s key', async (type) => {
    dir = mkdtempSync(join(tmpdir(), 'cloudboot-gce-ssh-'));
    const path = join(dir, 'key.pem');
    const { privateKey } =
      type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    expect(await publicKeyFor(path)).toBe(keygenPublic(path));
  });

  it('names the file when it cannot be read', async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloudboot-gce-ssh-'));
    await expect(publicKeyFor(join(dir, 'none'))).rejects.toThrowError(
      /cannot read the SSH key .*none \(localsshkeypath\): ENOENT/,
    );
  });
});
