/**
 * The shared driver conformance suite (`@cloudboot/core/conformance`): every
 * driver package runs it against its driver (and, for cloud drivers, against
 * the fake cloud in `test/`), so each driver is held to the contract in
 * `driver.ts` the same way. Capability switches skip what a driver does not
 * claim; `extra` adds driver-specific cases.
 *
 * @example
 * testDriver({ name: 'static-ip', create: () => createDriver({}), spec: () => ({ … }) });
 */
import { describe, expect, it } from 'vitest';
import { DriverError } from '../errors.js';
import type { Driver, InstanceInfo, InstanceState, LaunchSpec } from './driver.js';
import { INSTANCE_STATES } from './driver.js';

/** How to exercise one driver. */
export interface DriverConformanceOptions {
  /** Name the driver reports (`driver.name`). */
  readonly name: string;
  /** Creates a driver; called once per test. */
  readonly create: () => Driver;
  /** A launch spec the driver can satisfy. */
  readonly spec: () => LaunchSpec;
  /** A spec the driver must refuse with a `DriverError` (kind `invalid-request` or `not-found`), if there is one. */
  readonly invalidSpec?: () => LaunchSpec;
  /** An instance id that cannot exist, in the driver's id format. */
  readonly unknownId: string;
  /** The driver's native-state map, checked to cover only known states. */
  readonly stateMap?: Readonly<Record<string, InstanceState>>;
  /** How long an instance may take to reach `running`; default 10 s. */
  readonly runningWithinMs?: number;
  /** Driver-specific cases, run inside the suite's `describe`. */
  readonly extra?: () => void;
}

let tokens = 0;
/** A fresh idempotency token for one test. */
function token(): string {
  tokens += 1;
  return `conformance-${process.pid}-${Date.now()}-${tokens}`;
}

const TAGS = { 'cloudboot-run': 'conformance', 'cloudboot-service': 'svc' };

async function untilRunning(driver: Driver, id: string, withinMs: number): Promise<InstanceInfo> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const [info] = await driver.describe([id]);
    if (info?.state === 'running' && info.address !== undefined) return info;
    if (Date.now() > deadline)
      throw new Error(`instance ${id} is ${info?.state ?? 'unknown'}, not running`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Registers the conformance suite for one driver with vitest. */
export function testDriver(options: DriverConformanceOptions): void {
  const within = options.runningWithinMs ?? 10_000;

  describe(`driver conformance: ${options.name}`, () => {
    it('has the driver shape, its name and capabilities', () => {
      const driver = options.create();
      expect(driver.name).toBe(options.name);
      expect(typeof driver.capabilities.launchesMachines).toBe('boolean');
      expect(typeof driver.capabilities.findsByTags).toBe('boolean');
      for (const method of ['launch', 'describe', 'terminate', 'validate'] as const) {
        expect(typeof driver[method]).toBe('function');
      }
      if (driver.capabilities.findsByTags) expect(typeof driver.findByTags).toBe('function');
    });

    it('validates its settings without launching anything', async () => {
      await expect(options.create().validate()).resolves.toBeUndefined();
    });

    it('launches idempotently per token and reports the instance running with an address', async () => {
      const driver = options.create();
      const launchToken = token();
      const context = { token: launchToken, tags: { ...TAGS, 'cloudboot-token': launchToken } };
      const { instanceId } = await driver.launch(options.spec(), context);
      expect(typeof instanceId).toBe('string');
      expect(instanceId).not.toBe('');
      const again = await driver.launch(options.spec(), context);
      expect(again.instanceId).toBe(instanceId);
      const info = await untilRunning(driver, instanceId, within);
      expect(info.instanceId).toBe(instanceId);
      expect(typeof info.nativeState).toBe('string');
      await driver.terminate([instanceId]);
    });

    it('describes several ids in order, reporting an unknown one as vanished', async () => {
      const driver = options.create();
      const launchToken = token();
      const { instanceId } = await driver.launch(options.spec(), {
        token: launchToken,
        tags: { ...TAGS, 'cloudboot-token': launchToken },
      });
      const infos = await driver.describe([options.unknownId, instanceId]);
      expect(infos.map((i) => i.instanceId)).toEqual([options.unknownId, instanceId]);
      expect(infos[0]?.state).toBe('vanished');
      for (const info of infos) expect(INSTANCE_STATES).toContain(info.state);
      await driver.terminate([instanceId]);
    });

    it('terminates safely twice, and for ids that are gone', async () => {
      const driver = options.create();
      const launchToken = token();
      const { instanceId } = await driver.launch(options.spec(), {
        token: launchToken,
        tags: { ...TAGS, 'cloudboot-token': launchToken },
      });
      await expect(driver.terminate([instanceId])).resolves.toBeUndefined();
      await expect(driver.terminate([instanceId])).resolves.toBeUndefined();
      await expect(driver.terminate([options.unknownId])).resolves.toBeUndefined();
      if (driver.capabilities.launchesMachines) {
        const [info] = await driver.describe([instanceId]);
        expect(['stopping', 'terminated', 'vanished']).toContain(info?.state);
      }
    });

    const invalid = options.invalidSpec;
    it.skipIf(invalid === undefined)(
      'refuses an impossible launch with a typed error',
      async () => {
        const launchToken = token();
        const refused = options.create().launch(invalid?.() ?? options.spec(), {
          token: launchToken,
          tags: { ...TAGS, 'cloudboot-token': launchToken },
        });
        await expect(refused).rejects.toBeInstanceOf(DriverError);
        await expect(refused).rejects.toSatisfy(
          (e: DriverError) => e.kind === 'invalid-request' || e.kind === 'not-found',
        );
      },
    );

    it.skipIf(options.stateMap === undefined)('maps every native state onto a known state', () => {
      for (const state of Object.values(options.stateMap ?? {}))
        expect(INSTANCE_STATES).toContain(state);
    });

    options.extra?.();
  });
}
