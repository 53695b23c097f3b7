import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DriverFactory } from '@cloudboot/core';
import { testDriver } from '@cloudboot/core/conformance';
import { afterAll } from 'vitest';

// The in-house example driver is plain JavaScript, loaded the way cloudboot loads it.
const { createDriver } = (await import(
  new URL('../../examples/inhouse-driver/pool-driver.mjs', import.meta.url).href
)) as {
  createDriver: DriverFactory;
};
const dir = mkdtempSync(join(tmpdir(), 'cloudboot-pool-'));
const leases = join(dir, 'leases.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

testDriver({
  name: 'pool',
  create: () => createDriver({ pool: '127.0.0.1, 127.0.0.2, localhost', pool_file: leases }),
  spec: () => ({ service: 'worker', image: 'any', securityGroups: [], options: {} }),
  unknownId: 'lease-999',
});
