/**
 * `examples/run-multicloud.sh` end to end: one plan across the fake EC2,
 * OpenStack and GCE and an existing machine, booted with the real drivers
 * over real SSH, then status, history and terminate; the script itself
 * checks every fake cloud for live instances afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';

const repo = new URL('../../', import.meta.url).pathname;
let db: string | undefined;
afterEach(() => {
  if (db !== undefined) rmSync(db, { recursive: true, force: true });
});

it('boots one plan across three clouds and an existing machine, and leaves no instance live', async () => {
  db = mkdtempSync(join(tmpdir(), 'cloudboot-multicloud-db-'));
  const env = { ...process.env, CLOUDBOOT_EXAMPLE_NO_SETUP: '1', CLOUDBOOT_EXAMPLE_DB: db };
  const { code, stdout, stderr } = await new Promise<{
    code: number;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    execFile(
      'bash',
      [join(repo, 'examples/run-multicloud.sh')],
      { env, timeout: 240_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toMatch(/boot ok in .*: 4 of 4 services ready/);
  expect(stdout).toMatch(/status ok in .*: 4 of 4 services ready/);
  for (const driver of ['ec2', 'openstack', 'gce', 'static-ip'])
    expect(stdout).toMatch(new RegExp(`^\\S+ +\\S+ +${driver} +`, 'm'));
  expect(stdout).toMatch(/terminate ok in .*: 4 of 4 services terminated/);
  expect(stdout).toMatch(/^ec2 i-\w+ terminated$/m);
  expect(stdout).toMatch(/^openstack \S+ DELETED$/m);
  expect(stdout).toMatch(/^gce \d+ DELETED$/m);
  expect(stdout).toContain('no instance is left live in any cloud');
  expect(readdirSync(db).filter((f) => f.endsWith('.db'))).toHaveLength(1);
}, 300_000);
