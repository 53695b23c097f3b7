// An in-house cloudboot driver, written the way a team would write its own:
// a plain ES module exporting `createDriver(settings)`. It "launches" a
// machine by leasing one from a shared pool of existing hosts, recorded in a
// JSON lease file, so several runs never get the same host at once.
//
// Plan keys it reads (settings): `pool` (comma-separated hostnames) and
// `pool_file` (the lease file; created when missing).
//
// Select it in a plan with `driver: ./pool-driver.mjs` (a path relative to
// the file that says it) or by package name if you publish it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** @typedef {{ host: string, token: string, service: string, state: 'leased' | 'released' }} Lease */

function readLeases(file) {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
}

function writeLeases(file, leases) {
  // Write-then-rename so a crash never leaves a half-written lease file.
  writeFileSync(`${file}.tmp`, JSON.stringify(leases, null, 2));
  renameSync(`${file}.tmp`, file);
}

function driverError(kind, message) {
  // cloudboot reads `kind` to decide whether a retry can help, and puts the
  // driver's name in front of the message.
  return Object.assign(new Error(message), { kind });
}

/** @param {Record<string, string>} settings */
export function createDriver(settings) {
  const pool = (settings.pool ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const file = settings.pool_file;

  return {
    name: 'pool',
    capabilities: { launchesMachines: true, findsByTags: false },

    async launch(spec, { token, tags }) {
      if (!file) throw driverError('invalid-request', 'the plan must set pool_file');
      const leases = readLeases(file);
      // Idempotent: the same token always gets the same lease.
      const existing = Object.entries(leases).find(([, lease]) => lease.token === token);
      if (existing) return { instanceId: existing[0] };
      const taken = new Set(
        Object.values(leases)
          .filter((l) => l.state === 'leased')
          .map((l) => l.host),
      );
      const host = pool.find((h) => !taken.has(h));
      if (!host) throw driverError('capacity', `all ${pool.length} hosts of the pool are leased`);
      const instanceId = `lease-${Object.keys(leases).length + 1}`;
      leases[instanceId] = {
        host,
        token,
        service: tags['cloudboot-service'] ?? spec.service,
        state: 'leased',
      };
      writeLeases(file, leases);
      return { instanceId };
    },

    async describe(instanceIds) {
      const leases = readLeases(file);
      return instanceIds.map((instanceId) => {
        const lease = leases[instanceId];
        if (!lease) return { instanceId, state: 'vanished', nativeState: 'unknown' };
        return lease.state === 'leased'
          ? { instanceId, state: 'running', nativeState: 'leased', address: lease.host }
          : { instanceId, state: 'terminated', nativeState: 'released' };
      });
    },

    async terminate(instanceIds) {
      const leases = readLeases(file);
      for (const id of instanceIds) if (leases[id]) leases[id].state = 'released';
      writeLeases(file, leases);
    },

    async validate() {
      if (pool.length === 0)
        throw driverError('invalid-request', 'the plan must list hosts in pool');
      if (!file) throw driverError('invalid-request', 'the plan must set pool_file');
    },
  };
}
