import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudBoot, DriverLoadError } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
import { afterEach, describe, expect, it } from 'vitest';

const examples = new URL('../../examples/', import.meta.url).pathname;
let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

/** True while `pid` is a live process (a zombie waiting to be reaped is dead). */
function isRunning(pid: number): boolean {
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)])
      .toString()
      .startsWith('Z');
  } catch {
    return false;
  }
}

/** Copies an example into a temp dir. */
function copyExample(name: string): string {
  const root = mkdtempSync(join(tmpdir(), `cloudboot-${name}-`));
  roots.push(root);
  cpSync(join(examples, name), root, { recursive: true });
  return root;
}

describe('the in-house driver example', () => {
  it('is loaded by module specifier and leases, uses and releases machines', async () => {
    const root = copyExample('inhouse-driver');
    const leases = join(root, 'leases.json');
    writeFileSync(
      join(root, 'top.conf'),
      readFileSync(join(root, 'top.conf'), 'utf8')
        .replace('/tmp/cloudboot-pool-leases.json', leases)
        .replace('[defaults]', `[defaults]\nworkdir: ${join(root, 'work')}`),
    );
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: join(root, 'top.conf'),
      runName: 'pool',
      drivers: { 'static-ip': createDriver },
    });
    const result = await boot.run();
    expect(result.failures).toEqual([]);
    const services = boot.getServices().flat();
    expect(services.map((s) => [s.name, s.instanceId, s.state])).toEqual([
      ['worker-0', expect.stringMatching(/^lease-[12]$/), 'ready'],
      ['worker-1', expect.stringMatching(/^lease-[12]$/), 'ready'],
    ]);
    expect(services.map((s) => s.hostname).sort()).toEqual(['127.0.0.1', 'localhost']);
    const leased = JSON.parse(readFileSync(leases, 'utf8')) as Record<
      string,
      { state: string; token: string }
    >;
    expect(Object.values(leased).map((l) => l.state)).toEqual(['leased', 'leased']);
    // The token recorded before the launch is the one the driver saw.
    const tokens = boot
      .instances()
      .map((i) => i.token)
      .sort();
    expect(
      Object.values(leased)
        .map((l) => l.token)
        .sort(),
    ).toEqual(tokens);

    expect((await boot.shutdown()).ok).toBe(true);
    const released = JSON.parse(readFileSync(leases, 'utf8')) as Record<string, { state: string }>;
    expect(Object.values(released).map((l) => l.state)).toEqual(['released', 'released']);
    expect(boot.instances().every((i) => i.terminatedAt !== null)).toBe(true);
    boot.close();
  });

  it('refuses to start, launching nothing, when a driver module is missing', async () => {
    const root = copyExample('inhouse-driver');
    writeFileSync(
      join(root, 'top.conf'),
      readFileSync(join(root, 'top.conf'), 'utf8').replace(
        './pool-driver.mjs',
        './no-such-driver.mjs',
      ),
    );
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: join(root, 'top.conf'),
      runName: 'missing',
    });
    await expect(boot.run()).rejects.toThrow(DriverLoadError);
    await expect(boot.wait()).rejects.toThrow(
      /cannot load driver "\.\/no-such-driver\.mjs" \(file:\/\/.*no-such-driver\.mjs\)/,
    );
    expect(
      boot
        .getServices()
        .flat()
        .map((s) => s.state),
    ).toEqual(['pending', 'pending']);
    expect(boot.instances()).toEqual([]);
    boot.close();
  });
});

describe('the webapp example', () => {
  it('starts a real server, registers two apps with it, and leaves nothing running after shutdown', async () => {
    const root = copyExample('webapp');
    writeFileSync(
      join(root, 'top.conf'),
      readFileSync(join(root, 'top.conf'), 'utf8').replace(
        '[defaults]',
        `[defaults]\nworkdir: ${join(root, 'work')}`,
      ),
    );
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: join(root, 'top.conf'),
      runName: 'webapp',
      drivers: { 'static-ip': createDriver },
    });
    const result = await boot.run();
    expect(result.failures.map((f) => `${f.message}\n${f.stderrTail}`)).toEqual([]);
    const store = boot.getServices()[0]?.[0];
    const port = store?.getAttrFromBag('port');
    expect(port).toMatch(/^\d+$/);
    const app = await fetch(`http://127.0.0.1:${port}/apps/app-1`);
    expect(await app.text()).toBe('hello from cloudboot');
    const pid = Number(store?.getAttrFromBag('pid'));
    expect(isRunning(pid)).toBe(true);

    expect((await boot.shutdown()).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(join(root, 'work', 'store'))).toBe(false);
    boot.close();
  });
});
