/**
 * Batched instance calls: `DescribeInstances` and `TerminateInstances` with
 * up to 1000 ids per call (following `NextToken`), tolerant of ids EC2 no
 * longer knows, and tag searches with `Filters`.
 *
 * EC2 refuses a whole `DescribeInstances`/`TerminateInstances` call when one
 * id is unknown (`InvalidInstanceID.NotFound`, naming the ids) or not an
 * instance id at all (`InvalidInstanceID.Malformed`). Those ids are taken out
 * and the call repeated, so one unknown id never hides the others; when the
 * answer does not name them, the ids are looked up with an `instance-id`
 * filter instead, which never fails for unknown ids.
 */
import type { Filter, Instance } from '@aws-sdk/client-ec2';
import type { InstanceInfo } from '@cloudboot/core';
import type { Ec2Api } from './ec2-client.js';
import { ec2Code, ec2Error } from './ec2-errors.js';
import type { SshAddress } from './ec2-settings.js';
import { ec2State } from './ec2-states.js';

/** Most instance ids EC2 takes in one call. */
export const IDS_PER_CALL = 1000;
/** Most values of one filter. */
const VALUES_PER_FILTER = 200;
/** Page size of filtered searches (EC2's maximum). */
const PAGE_SIZE = 1000;

/** Ids of the shape `i-…`; anything else cannot be an EC2 instance and is not sent. */
const INSTANCE_ID = /^i-[0-9A-Za-z]+$/;
const NAMED_ID = /i-[0-9A-Za-z]+/g;

const UNKNOWN_ID_CODES = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The ids of `asked` that an `InvalidInstanceID.*` error names. */
function namedIds(error: unknown, asked: readonly string[]): Set<string> {
  const message = (error as { message?: unknown }).message;
  const named = new Set(typeof message === 'string' ? (message.match(NAMED_ID) ?? []) : []);
  return new Set(asked.filter((id) => named.has(id)));
}

/** An EC2 instance as cloudboot describes it. */
export function instanceInfo(instance: Instance, sshAddress: SshAddress): InstanceInfo {
  const nativeState = instance.State?.Name ?? 'pending';
  const publicAddress = instance.PublicIpAddress;
  const privateAddress = instance.PrivateIpAddress;
  const address = sshAddress === 'private' ? privateAddress : publicAddress;
  const tags = Object.fromEntries(
    (instance.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])),
  );
  return {
    instanceId: instance.InstanceId ?? '',
    state: ec2State(nativeState),
    nativeState,
    ...(address !== undefined && { address }),
    ...(publicAddress !== undefined && { publicAddress }),
    ...(privateAddress !== undefined && { privateAddress }),
    tags,
    attributes: machineFacts(instance),
  };
}

/**
 * The DNS names and zone of an instance, published as attributes of its
 * service. EC2 answers an empty name where there is none (no public address,
 * a VPC without DNS hostnames), which is left out.
 */
function machineFacts(instance: Instance): Record<string, string> {
  const facts: Record<string, string> = {};
  if (instance.PublicDnsName) facts.public_dns = instance.PublicDnsName;
  if (instance.PrivateDnsName) facts.private_dns = instance.PrivateDnsName;
  const zone = instance.Placement?.AvailabilityZone;
  if (zone) facts.availability_zone = zone;
  return facts;
}

/** Every instance of every page of a `DescribeInstances` query. */
async function allPages(
  api: Ec2Api,
  query: { InstanceIds?: string[]; Filters?: Filter[]; MaxResults?: number },
  signal: AbortSignal | undefined,
): Promise<Instance[]> {
  const found: Instance[] = [];
  let nextToken: string | undefined;
  do {
    const out = await api.describeInstances(
      { ...query, ...(nextToken !== undefined && { NextToken: nextToken }) },
      signal,
    );
    for (const reservation of out.Reservations ?? []) found.push(...(reservation.Instances ?? []));
    nextToken = out.NextToken || undefined;
  } while (nextToken !== undefined);
  return found;
}

/** Instances by id via the `instance-id` filter: unknown ids are simply absent. */
async function byFilter(
  api: Ec2Api,
  ids: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Instance[]> {
  const found: Instance[] = [];
  for (const part of chunks(ids, VALUES_PER_FILTER)) {
    const filters = [{ Name: 'instance-id', Values: part }];
    found.push(...(await allPages(api, { Filters: filters, MaxResults: PAGE_SIZE }, signal)));
  }
  return found;
}

/** Up to {@link IDS_PER_CALL} ids: those EC2 knows, taking out the ones it refuses. */
async function describeChunk(
  api: Ec2Api,
  ids: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Instance[]> {
  let asked = [...ids];
  while (asked.length > 0) {
    try {
      return await allPages(api, { InstanceIds: asked }, signal);
    } catch (error) {
      if (!UNKNOWN_ID_CODES.has(ec2Code(error) ?? '')) throw error;
      const unknown = namedIds(error, asked);
      if (unknown.size === 0) return await byFilter(api, asked, signal);
      asked = asked.filter((id) => !unknown.has(id));
    }
  }
  return [];
}

/**
 * One entry per id, in order; ids EC2 does not know (or that are not EC2
 * instance ids) are `vanished`.
 * @throws DriverError for any other failure.
 */
export async function describeInstances(
  api: Ec2Api,
  instanceIds: readonly string[],
  sshAddress: SshAddress,
  signal?: AbortSignal,
): Promise<InstanceInfo[]> {
  const wanted = [...new Set(instanceIds.filter((id) => INSTANCE_ID.test(id)))];
  const known = new Map<string, InstanceInfo>();
  try {
    for (const part of chunks(wanted, IDS_PER_CALL)) {
      for (const instance of await describeChunk(api, part, signal)) {
        const info = instanceInfo(instance, sshAddress);
        known.set(info.instanceId, info);
      }
    }
  } catch (error) {
    throw ec2Error(error, 'DescribeInstances');
  }
  return instanceIds.map(
    (instanceId) =>
      known.get(instanceId) ?? { instanceId, state: 'vanished', nativeState: 'not found' },
  );
}

/**
 * Terminates instances in calls of up to {@link IDS_PER_CALL} ids. Ids EC2
 * no longer knows are skipped; terminating an instance twice is harmless.
 * @throws DriverError when EC2 refuses for another reason.
 */
export async function terminateInstances(
  api: Ec2Api,
  instanceIds: readonly string[],
  signal?: AbortSignal,
): Promise<void> {
  const wanted = [...new Set(instanceIds.filter((id) => INSTANCE_ID.test(id)))];
  try {
    for (const part of chunks(wanted, IDS_PER_CALL)) {
      let asked = part;
      let filtered = false;
      while (asked.length > 0) {
        try {
          await api.terminateInstances(asked, signal);
          break;
        } catch (error) {
          if (!UNKNOWN_ID_CODES.has(ec2Code(error) ?? '')) throw error;
          const unknown = namedIds(error, asked);
          if (unknown.size > 0) {
            asked = asked.filter((id) => !unknown.has(id));
          } else if (!filtered) {
            // Not named: ask which of them exist, and terminate only those.
            filtered = true;
            asked = (await byFilter(api, asked, signal)).flatMap((i) =>
              i.InstanceId === undefined ? [] : [i.InstanceId],
            );
          } else {
            throw error;
          }
        }
      }
    }
  } catch (error) {
    throw ec2Error(error, 'TerminateInstances');
  }
}

/**
 * Instances carrying every given tag (`Filters` on `tag:KEY`), terminated
 * ones included while EC2 still lists them.
 * @throws DriverError
 */
export async function findInstancesByTags(
  api: Ec2Api,
  tags: Readonly<Record<string, string>>,
  sshAddress: SshAddress,
  signal?: AbortSignal,
): Promise<InstanceInfo[]> {
  const filters = Object.entries(tags).map(([key, value]) => ({
    Name: `tag:${key}`,
    Values: [value],
  }));
  try {
    const found = await allPages(api, { Filters: filters, MaxResults: PAGE_SIZE }, signal);
    return found.map((instance) => instanceInfo(instance, sshAddress));
  } catch (error) {
    throw ec2Error(error, 'DescribeInstances');
  }
}
