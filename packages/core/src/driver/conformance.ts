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
import { launchTags } from './launch-tags.js';

/** A driver's native states, and how the test cloud puts an instance into each. */
export interface NativeStates {
  /** Every native state the driver documents (its exported list, e.g. `EC2_NATIVE_STATES`). */
  readonly native: readonly string[];
  /** The driver's map from native state to cloudboot state (e.g. `EC2_STATE_MAP`). */
  readonly map: Readonly<Record<string, InstanceState>>;
  /** Makes the (fake) cloud hold instance `instanceId` in native state `state`. */
  readonly put: (instanceId: string, state: string) => void | Promise<void>;
}

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
  /**
   * The driver's native states: the map must cover exactly the documented
   * list, and `describe` must report an instance the cloud holds in each
   * state as the map says.
   */
  readonly states?: NativeStates;
  /**
   * API requests the test cloud has received so far, authentication's
   * included. With it, a driver that takes the account's pace
   * ({@link Driver.usePace}) must send every request through it.
   */
  readonly requests?: () => number;
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

/** The launch context of a test launch: a fresh token, and the tags core would give it. */
function launchContext(run = 'conformance', service = 'svc') {
  const launchToken = token();
  return { token: launchToken, tags: launchTags(run, service, launchToken) };
}

/** The native state a driver reports, without the detail some add (OpenStack's `ACTIVE/deleting`). */
function baseState(nativeState: string): string {
  return nativeState.split(/[/:]/, 1)[0] ?? nativeState;
}

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
      const context = launchContext();
      // As core calls it: the token's first call, then a repeat (a retry or resume).
      const { instanceId } = await driver.launch(options.spec(), { ...context, firstCall: true });
      expect(typeof instanceId).toBe('string');
      expect(instanceId).not.toBe('');
      const again = await driver.launch(options.spec(), { ...context, firstCall: false });
      expect(again.instanceId).toBe(instanceId);
      const info = await untilRunning(driver, instanceId, within);
      expect(info.instanceId).toBe(instanceId);
      expect(typeof info.nativeState).toBe('string');
      await driver.terminate([instanceId]);
    });

    it('describes several ids in order, reporting an unknown one as vanished', async () => {
      const driver = options.create();
      const { instanceId } = await driver.launch(options.spec(), launchContext());
      const infos = await driver.describe([options.unknownId, instanceId]);
      expect(infos.map((i) => i.instanceId)).toEqual([options.unknownId, instanceId]);
      expect(infos[0]?.state).toBe('vanished');
      for (const info of infos) expect(INSTANCE_STATES).toContain(info.state);
      await driver.terminate([instanceId]);
    });

    it('terminates safely twice, and for ids that are gone', async () => {
      const driver = options.create();
      const { instanceId } = await driver.launch(options.spec(), launchContext());
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
        const refused = options.create().launch(invalid?.() ?? options.spec(), launchContext());
        await expect(refused).rejects.toBeInstanceOf(DriverError);
        await expect(refused).rejects.toSatisfy(
          (e: DriverError) => e.kind === 'invalid-request' || e.kind === 'not-found',
        );
      },
    );

    it('finds exactly the instances that carry all the given tags', async (test) => {
      const driver = options.create();
      if (!driver.capabilities.findsByTags || driver.findByTags === undefined) {
        test.skip();
        return;
      }
      const run = `conformance-find-${process.pid}-${Date.now()}`;
      const a = launchContext(run, 'svc-a');
      const b = launchContext(run, 'svc-b');
      const idA = (await driver.launch(options.spec(), a)).instanceId;
      const idB = (await driver.launch(options.spec(), b)).instanceId;
      const found = async (tags: Readonly<Record<string, string>>) =>
        ((await driver.findByTags?.(tags)) ?? []).map((i) => i.instanceId).sort();
      expect(await found(a.tags)).toEqual([idA]);
      expect(await found({ 'cloudboot-run': run, 'cloudboot-token': b.token })).toEqual([idB]);
      expect(await found({ 'cloudboot-run': run })).toEqual([idA, idB].sort());
      expect(await found({ 'cloudboot-run': `${run}-other` })).toEqual([]);
      await driver.terminate([idA, idB]);
    });

    const requests = options.requests;
    it.skipIf(requests === undefined)(
      'sends every API request through the pace it is given',
      async (test) => {
        const driver = options.create();
        if (driver.usePace === undefined) {
          test.skip();
          return;
        }
        let paced = 0;
        driver.usePace({
          request: (send) => {
            paced += 1;
            return send();
          },
        });
        const before = requests?.() ?? 0;
        await driver.validate();
        const { instanceId } = await driver.launch(options.spec(), launchContext());
        await untilRunning(driver, instanceId, within);
        await driver.terminate([instanceId]);
        expect(paced).toBeGreaterThan(0);
        expect(paced).toBe((requests?.() ?? 0) - before);
      },
    );

    const states = options.states;
    it.skipIf(states === undefined)('maps exactly its documented native states', () => {
      const { native = [], map = {} } = states ?? {};
      expect(Object.keys(map).sort()).toEqual([...native].sort());
      for (const state of Object.values(map)) expect(INSTANCE_STATES).toContain(state);
    });

    it.skipIf(states === undefined)(
      'describes an instance the cloud holds in each native state as its map says',
      async () => {
        const { native = [], map = {}, put } = states ?? ({} as Partial<NativeStates>);
        const driver = options.create();
        const { instanceId } = await driver.launch(options.spec(), launchContext());
        await untilRunning(driver, instanceId, within);
        const seen: Array<[string, InstanceState | undefined]> = [];
        for (const state of native) {
          await put?.(instanceId, state);
          const [info] = await driver.describe([instanceId]);
          seen.push([baseState(info?.nativeState ?? ''), info?.state]);
        }
        expect(seen).toEqual(native.map((state) => [state, map[state]]));
        await driver.terminate([instanceId]);
      },
    );

    options.extra?.();
  });
}
