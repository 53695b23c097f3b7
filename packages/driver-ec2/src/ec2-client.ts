/**
 * The one place that constructs the AWS SDK's EC2 client: created on first
 * use (constructing a driver does no I/O), with the account's region,
 * endpoint and credentials, and with the SDK's own retries off, because
 * cloudboot's core retries every call itself (with the same launch token)
 * and paces every request of the account (when given its pace).
 */
import {
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  type DescribeImagesCommandOutput,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  DescribeRegionsCommand,
  type DescribeRegionsCommandOutput,
  EC2Client,
  type EC2ClientConfig,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type RunInstancesCommandOutput,
  TerminateInstancesCommand,
  type TerminateInstancesCommandOutput,
} from '@aws-sdk/client-ec2';
import type { RequestPace } from '@cloudboot/core';
import { ec2Kind } from './ec2-errors.js';
import type { Ec2AccountSettings } from './ec2-settings.js';

/** A lazily created EC2 client for one account and region. */
export class Ec2Api {
  readonly #account: Ec2AccountSettings;
  #client: EC2Client | undefined;
  #pace: RequestPace | undefined;

  constructor(account: Ec2AccountSettings) {
    this.#account = account;
  }

  /** Sends every request from now on in the account's pace. */
  usePace(pace: RequestPace): void {
    this.#pace = pace;
  }

  /** The region calls go to, when the plan or the environment names it. */
  get region(): string | undefined {
    return this.#account.region;
  }

  /** `RunInstances`. Every method rejects with the SDK's exception (see `ec2-errors.ts`). */
  runInstances(
    input: RunInstancesCommandInput,
    signal?: AbortSignal,
  ): Promise<RunInstancesCommandOutput> {
    return this.#send((c, o) => c.send(new RunInstancesCommand(input), o), signal);
  }

  /** `DescribeInstances` (one page). */
  describeInstances(
    input: DescribeInstancesCommandInput,
    signal?: AbortSignal,
  ): Promise<DescribeInstancesCommandOutput> {
    return this.#send((c, o) => c.send(new DescribeInstancesCommand(input), o), signal);
  }

  /** `TerminateInstances`. */
  terminateInstances(
    instanceIds: string[],
    signal?: AbortSignal,
  ): Promise<TerminateInstancesCommandOutput> {
    return this.#send(
      (c, o) => c.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }), o),
      signal,
    );
  }

  /** `DescribeRegions`: a cheap authenticated call. */
  describeRegions(signal?: AbortSignal): Promise<DescribeRegionsCommandOutput> {
    return this.#send((c, o) => c.send(new DescribeRegionsCommand({}), o), signal);
  }

  /** `DescribeImages`. */
  describeImages(
    input: DescribeImagesCommandInput,
    signal?: AbortSignal,
  ): Promise<DescribeImagesCommandOutput> {
    return this.#send((c, o) => c.send(new DescribeImagesCommand(input), o), signal);
  }

  async #send<T>(
    call: (client: EC2Client, options: { abortSignal?: AbortSignal }) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    this.#client ??= new EC2Client(clientConfig(this.#account));
    const client = this.#client;
    const send = () => call(client, signal ? { abortSignal: signal } : {});
    try {
      return await (this.#pace?.request(send, { signal, kindOf: ec2Kind }) ?? send());
    } catch (error) {
      if (error instanceof Error && /region is missing/i.test(error.message)) {
        throw Object.assign(
          new Error(
            'no region: set iaas to an EC2 region (or AWS_REGION, or a region in the AWS profile)',
          ),
          { name: 'MissingRegion' },
        );
      }
      throw error;
    }
  }
}

/** A call EC2 has not answered in this long is given up (and retried by core). */
const REQUEST_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 10_000;

function clientConfig(account: Ec2AccountSettings): EC2ClientConfig {
  return {
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionTimeout: CONNECT_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
    ...(account.region !== undefined && { region: account.region }),
    ...(account.endpoint !== undefined && { endpoint: account.endpoint }),
    ...(account.credentials !== undefined && { credentials: account.credentials }),
    ...(account.profile !== undefined && { profile: account.profile }),
  };
}
