import { testDriver } from '@cloudboot/core/conformance';
import { expect, it } from 'vitest';
import { createDriver, STATIC_IP_DRIVER_NAME } from './static-ip-driver.js';

testDriver({
  name: STATIC_IP_DRIVER_NAME,
  create: () => createDriver({}),
  spec: () => ({ service: 'web', hostname: '127.0.0.1', securityGroups: [], options: {} }),
  invalidSpec: () => ({ service: 'web', securityGroups: [], options: {} }),
  unknownId: 'i-not-a-static-id',
  extra: () => {
    it('adopts a machine by name: the same host gives the same id, the address is the hostname', async () => {
      const driver = createDriver({});
      const context = { token: 't', tags: {} };
      const spec = { service: 'db', hostname: 'localhost', securityGroups: [], options: {} };
      const { instanceId } = await driver.launch(spec, context);
      expect(instanceId).toBe('static:localhost');
      expect(await driver.describe([instanceId])).toEqual([
        {
          instanceId,
          state: 'running',
          nativeState: 'existing',
          address: 'localhost',
          publicAddress: 'localhost',
        },
      ]);
    });

    it('never kills an existing machine: terminate leaves it running', async () => {
      const driver = createDriver({});
      await driver.terminate(['static:127.0.0.1']);
      expect((await driver.describe(['static:127.0.0.1']))[0]?.state).toBe('running');
    });
  },
});
