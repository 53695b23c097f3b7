import { describe, expect, it } from 'vitest';
import type { PlanValue, ServicePlan } from './model.js';
import { driverOf, launchesMachines, plannedDriver } from './service-driver.js';

const value = (text: string, file = '/plans/level1.conf'): PlanValue => ({
  value: text,
  source: { file, line: 2, section: 'svc-a' },
});

function service(keys: Record<string, string | PlanValue>): ServicePlan {
  return {
    name: 'a',
    level: 1,
    source: { file: '/plans/level1.conf', line: 1, section: 'svc-a' },
    keys: Object.fromEntries(
      Object.entries(keys).map(([k, v]) => [k, typeof v === 'string' ? value(v) : v]),
    ),
    deps: {},
  };
}

describe('the driver of a service', () => {
  it('launches without a hostname unless iaas_launch says otherwise, with ec2 by default', () => {
    const choices = [
      [{ hostname: undefined, iaasLaunch: undefined, driver: undefined }, true, 'ec2'],
      [{ hostname: undefined, iaasLaunch: undefined, driver: 'gce' }, true, 'gce'],
      [{ hostname: 'db.example', iaasLaunch: undefined, driver: 'gce' }, false, 'static-ip'],
      [{ hostname: 'db.example', iaasLaunch: true, driver: undefined }, true, 'ec2'],
      [{ hostname: undefined, iaasLaunch: false, driver: 'gce' }, false, 'static-ip'],
    ] as const;
    for (const [choice, launches, driver] of choices) {
      expect([launchesMachines(choice), driverOf(choice)]).toEqual([launches, driver]);
    }
  });

  it('is read from the values as written, env.NAME from the environment when given', () => {
    expect(plannedDriver(service({ driver: 'openstack' }))).toEqual({
      launches: true,
      driver: 'openstack',
      base: '/plans',
    });
    expect(plannedDriver(service({ hostname: 'h', iaas_launch: 'yes', driver: 'gce' }))).toEqual({
      launches: true,
      driver: 'gce',
      base: '/plans',
    });
    expect(plannedDriver(service({ hostname: '${db.hostname}', driver: 'gce' })).driver).toBe(
      'static-ip',
    );
    const fromEnv = service({ driver: 'env.CB_DRIVER', iaas_launch: 'env.CB_LAUNCH' });
    expect(plannedDriver(fromEnv).driver).toBeUndefined();
    expect(plannedDriver(fromEnv, { CB_DRIVER: './pool.mjs' }).driver).toBe('./pool.mjs');
    // An unset variable leaves the key out, as at boot.
    expect(plannedDriver(fromEnv, {}).driver).toBe('ec2');
    expect(plannedDriver(fromEnv, { CB_LAUNCH: 'off', CB_DRIVER: 'gce' })).toMatchObject({
      launches: false,
      driver: 'static-ip',
    });
    expect(plannedDriver(service({ driver: 'x-${global.cloud}' })).driver).toBeUndefined();
  });

  it('resolves a relative driver module against the file that set driver', () => {
    const planned = plannedDriver(
      service({
        driver: value('./drivers/pool.mjs', '/plans/top.conf'),
        hostname: 'h',
        iaas_launch: 'true',
      }),
    );
    expect(planned).toEqual({ launches: true, driver: './drivers/pool.mjs', base: '/plans' });
    const own = plannedDriver(service({ driver: value('./pool.mjs', '/elsewhere/profile.conf') }));
    expect(own.base).toBe('/elsewhere');
  });
});
