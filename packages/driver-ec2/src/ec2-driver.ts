/**
 * The EC2 driver: launches instances with `RunInstances` (the launch token as
 * `ClientToken`, tags in the same call), describes and terminates them in
 * batches, finds them by tag, and validates credentials with
 * `DescribeRegions`. Retries, rate limits and waiting are core's: the SDK
 * client makes one attempt per call.
 */
import {
  type CallContext,
  type Driver,
  DriverError,
  type DriverSettings,
  type InstanceInfo,
  type LaunchContext,
  type LaunchSpec,
  type RequestPace,
} from '@cloudboot/core';
import { Ec2Api } from './ec2-client.js';
import { EC2_DRIVER_NAME, ec2Error } from './ec2-errors.js';
import { describeInstances, findInstancesByTags, terminateInstances } from './ec2-instances.js';
import { askedOf, type RootDevices, runInstancesInput } from './ec2-launch.js';
import {
  type Ec2LaunchSettings,
  Ec2SettingsError,
  parseAccountSettings,
  parseLaunchSettings,
} from './ec2-settings.js';

/**
 * Creates an EC2 driver for one account and region from plan keys (listed in
 * docs/drivers/ec2.md). Does no I/O; the SDK client is made on first use.
 *
 * - `launch` is idempotent per token: EC2 returns the instance of an earlier
 *   call with the same `ClientToken`. When it rejects with kind `transient`
 *   the answer may have been lost after EC2 created the instance; the driver
 *   first asks EC2 for an instance with that client token and returns it if
 *   there is one, so a rejection means nothing was found for the token.
 * - `describe` reports ids EC2 no longer knows as `vanished`.
 * - `terminate` is safe twice and for ids that are gone.
 *
 * @throws Ec2SettingsError when the account keys are wrong (all problems at once).
 * @example
 * const driver = createDriver({ iaas: 'eu-west-1' });
 */
export function createDriver(settings: DriverSettings): Driver {
  const account = parseAccountSettings(settings);
  const api = new Ec2Api(account);
  const rootDevices: RootDevices = new Map();
  const sshAddress = account.sshAddress;

  /** The instance EC2 made for a client token, if any (after a lost answer). */
  async function byClientToken(token: string, signal?: AbortSignal): Promise<string | undefined> {
    const out = await api.describeInstances(
      { Filters: [{ Name: 'client-token', Values: [token] }] },
      signal,
    );
    return out.Reservations?.flatMap((r) => r.Instances ?? [])[0]?.InstanceId;
  }

  return {
    name: EC2_DRIVER_NAME,
    capabilities: { launchesMachines: true, findsByTags: true },

    usePace(pace: RequestPace): void {
      api.usePace(pace);
    },

    async launch(spec: LaunchSpec, context: LaunchContext): Promise<{ instanceId: string }> {
      let launch: Ec2LaunchSettings;
      try {
        launch = parseLaunchSettings(spec).launch;
      } catch (error) {
        if (!(error instanceof Ec2SettingsError)) throw error;
        throw new DriverError(
          'invalid-request',
          EC2_DRIVER_NAME,
          `service ${spec.service}: ${error.message}`,
        );
      }
      const input = await runInstancesInput(api, rootDevices, launch, spec.service, context);
      let instanceId: string | undefined;
      try {
        const out = await api.runInstances(input, context.signal);
        instanceId = out.Instances?.[0]?.InstanceId;
      } catch (thrown) {
        const error = ec2Error(thrown, 'RunInstances', askedOf(launch, api.region));
        if (error.kind !== 'transient') throw error;
        const found = await byClientToken(context.token, context.signal).catch(() => undefined);
        if (found === undefined) throw error;
        return { instanceId: found };
      }
      if (instanceId === undefined) {
        throw new DriverError(
          'transient',
          EC2_DRIVER_NAME,
          'EC2 RunInstances answered without an instance id; the launch is asked again with the same client token',
        );
      }
      return { instanceId };
    },

    describe(instanceIds: readonly string[], context?: CallContext): Promise<InstanceInfo[]> {
      return describeInstances(api, instanceIds, sshAddress, context?.signal);
    },

    terminate(instanceIds: readonly string[], context?: CallContext): Promise<void> {
      return terminateInstances(api, instanceIds, context?.signal);
    },

    async validate(context?: CallContext): Promise<void> {
      try {
        await api.describeRegions(context?.signal);
      } catch (error) {
        throw ec2Error(error, 'DescribeRegions');
      }
    },

    findByTags(tags: Readonly<Record<string, string>>, context?: CallContext) {
      return findInstancesByTags(api, tags, sshAddress, context?.signal);
    },
  };
}
