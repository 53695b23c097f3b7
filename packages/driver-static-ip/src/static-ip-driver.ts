import { lookup } from 'node:dns/promises';
import {
  type Driver,
  DriverError,
  type DriverSettings,
  type InstanceInfo,
  type LaunchSpec,
} from '@cloudboot/core';

/** The name plans use: `driver: static-ip` (the default for services with only a hostname). */
export const STATIC_IP_DRIVER_NAME = 'static-ip';

const PREFIX = 'static:';

function hostOf(instanceId: string): string | undefined {
  return instanceId.startsWith(PREFIX) ? instanceId.slice(PREFIX.length) : undefined;
}

async function resolves(host: string): Promise<boolean> {
  try {
    await lookup(host);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the static-ip driver. It takes no settings and does no I/O until used.
 *
 * - `launch` needs `spec.hostname`; it rejects with kind `not-found` when the
 *   name does not resolve, and with `invalid-request` when there is none.
 *   The instance id is `static:<hostname>`; launching twice gives the same id.
 * - `describe` reports `running` with the hostname as address while the
 *   name resolves, `vanished` otherwise (and for ids it did not make).
 * - `terminate` does nothing: the machine is not ours to kill. Safe twice.
 */
export function createDriver(_settings: DriverSettings = {}): Driver {
  return {
    name: STATIC_IP_DRIVER_NAME,
    capabilities: { launchesMachines: false, findsByTags: false },

    async launch(spec: LaunchSpec) {
      const host = spec.hostname;
      if (host === undefined || host === '') {
        throw new DriverError(
          'invalid-request',
          STATIC_IP_DRIVER_NAME,
          `service ${spec.service} has no hostname`,
        );
      }
      if (!(await resolves(host))) {
        throw new DriverError(
          'not-found',
          STATIC_IP_DRIVER_NAME,
          `hostname "${host}" of service ${spec.service} does not resolve`,
        );
      }
      return { instanceId: `${PREFIX}${host}` };
    },

    async describe(instanceIds: readonly string[]): Promise<InstanceInfo[]> {
      const hosts = [
        ...new Set(instanceIds.map(hostOf).filter((h): h is string => h !== undefined)),
      ];
      const alive = new Map(
        await Promise.all(hosts.map(async (h) => [h, await resolves(h)] as const)),
      );
      return instanceIds.map((instanceId) => {
        const host = hostOf(instanceId);
        return host !== undefined && alive.get(host) === true
          ? {
              instanceId,
              state: 'running',
              nativeState: 'existing',
              address: host,
              publicAddress: host,
            }
          : { instanceId, state: 'vanished', nativeState: 'unknown' };
      });
    },

    async terminate() {},

    async validate() {},
  };
}
