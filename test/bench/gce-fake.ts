/**
 * Benchmark of the gce driver on the fake Compute Engine: one level of N
 * services (local programs, so only the cloud part is measured) booted and
 * terminated through the CloudBoot API. Reports API calls by type, calls per
 * polling round (each round is one `instances.list` for the whole level),
 * wall time minus the fake's boot delay, and peak RSS.
 *
 *   node --conditions=source --import tsx test/bench/gce-fake.ts [N...]   (default: 30 300)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudBoot, type Driver, type DriverSettings } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-gce';
import { startGceCloud } from '../fakes/gce-cloud.js';

const BOOT_DELAY_MS = 2_000;

async function scenario(services: number): Promise<string> {
  const fake = await startGceCloud({ bootDelayMs: BOOT_DELAY_MS });
  const root = mkdtempSync(join(tmpdir(), 'cloudboot-bench-gce-'));
  try {
    writeFileSync(
      join(root, 'top.conf'),
      [
        '[runlevels]',
        'level1: l1.conf',
        '[defaults]',
        'local_exe: true',
        `workdir: ${join(root, 'work')}`,
        'driver: gce',
        'iaas: us-central1-a',
        `iaas_url: ${fake.url}`,
        'gce_project: bench-project',
        'gce_access_token: bench-token',
        'image: projects/debian-cloud/global/images/family/debian-12',
        'allocation: e2-small',
        '',
      ].join('\n'),
    );
    writeFileSync(join(root, 'l1.conf'), `[svc-vm]\nreplica_count: ${services}\n`);
    let rounds = 0;
    // The driver as core sees it, counting describe calls (one per polling round).
    const counted = (settings: DriverSettings): Driver => {
      const driver = createDriver(settings);
      return {
        name: driver.name,
        capabilities: driver.capabilities,
        launch: (spec, context) => driver.launch(spec, context),
        describe: (ids, context) => {
          rounds += 1;
          return driver.describe(ids, context);
        },
        terminate: (ids, context) => driver.terminate(ids, context),
        validate: (context) => driver.validate(context),
      };
    };
    const boot = new CloudBoot({
      dbDir: join(root, 'db'),
      planFile: join(root, 'top.conf'),
      runName: `bench-${services}`,
      drivers: { gce: counted },
      // Measure the cloud calls, not the account's rate limit.
      driverPolicy: { callsPerSecond: 10_000 },
    });
    const started = Date.now();
    const result = await boot.run();
    const wall = Date.now() - started;
    const launched = fake.callCounts();
    fake.resetCounts();
    await boot.shutdown();
    const terminated = fake.callCounts();
    boot.close();
    if (!result.ok) throw new Error(`the ${services}-service boot failed`);
    const lists = launched['instances.list'] ?? 0;
    const perRound = rounds === 0 ? 0 : lists / rounds;
    return [
      `| ${services}`,
      `${((wall - BOOT_DELAY_MS) / 1000).toFixed(2)} s`,
      `${rounds}`,
      `${perRound.toFixed(2)}`,
      `insert ${launched['instances.insert']}, get ${launched['instances.get']}, wait ${launched['zoneOperations.wait']}, image ${launched['images.getFromFamily']}, machine type ${launched['machineTypes.get']}`,
      `delete ${terminated['instances.delete'] ?? 0}, list ${terminated['instances.list'] ?? 0}`,
      `${Math.round(process.resourceUsage().maxRSS / 1024)} MB |`,
    ].join(' | ');
  } finally {
    rmSync(root, { recursive: true, force: true });
    await fake.close();
  }
}

const sizes = process.argv.slice(2).map(Number);
console.log(
  '| services | boot wall minus boot delay | polling rounds (describe) | instances.list per round | launch calls | terminate calls | peak RSS |',
);
console.log('|---|---|---|---|---|---|---|');
for (const n of sizes.length > 0 ? sizes : [30, 300]) console.log(await scenario(n));
