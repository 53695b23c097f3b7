/**
 * The gce driver: Compute Engine instances through `@google-cloud/compute`.
 * Settings are parsed up front (all problems at once); everything else
 * happens on first use.
 */
import { userInfo } from 'node:os';
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
import { GceClient, type GceInstance } from './gce-client.js';
import {
  failureOf,
  GCE,
  type GceErrorContext,
  type GceFailure,
  gceError,
  kindOf,
  operationFailure,
  toGceError,
} from './gce-errors.js';
import { instanceName, labelValue, requestIdFor, sanitiseLabels } from './gce-names.js';
import { type GceDriverOptions, parseGceSettings } from './gce-settings.js';
import { publicKeyFor } from './gce-ssh-key.js';
import { stateOf } from './gce-states.js';

/** The name plans use: `driver: gce`. */
export const GCE_DRIVER_NAME = GCE;

/** Instance ids are partial resource paths: `projects/P/zones/Z/instances/NAME`. */
const ID = /^projects\/([^/]+)\/zones\/([^/]+)\/instances\/([^/]+)$/;

interface InstanceRef {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
}

function idOf(ref: InstanceRef): string {
  return `projects/${ref.project}/zones/${ref.zone}/instances/${ref.name}`;
}

function refOf(instanceId: string): InstanceRef | undefined {
  const m = ID.exec(instanceId);
  return m === null ? undefined : { project: m[1] ?? '', zone: m[2] ?? '', name: m[3] ?? '' };
}

const IMAGE = /^projects\/([^/]+)\/global\/images\/(?:(family)\/)?([^/]+)$/;
const NETWORK = /^projects\/([^/]+)\/global\/networks\/([^/]+)$/;
const SUBNETWORK = /^projects\/([^/]+)\/regions\/([^/]+)\/subnetworks\/([^/]+)$/;

/** A reference without the `https://…/compute/v1/` in front. */
function partial(ref: string): string {
  return ref.replace(/^https?:\/\/[^/]+\/compute\/v1\//, '');
}

function isNotFound(error: unknown): boolean {
  return kindOf(failureOf(error)) === 'not-found';
}

/** Compute Engine's answer to an insert whose name is taken: 409 `alreadyExists`. */
function isAlreadyExists(failure: GceFailure): boolean {
  return failure.httpStatus === 409 || failure.codes.includes('alreadyExists');
}

/** Which plan key a failed insert points at, from Compute Engine's message. */
function insertSubject(message: string): Pick<GceErrorContext, 'key'> {
  if (/subnetwork/i.test(message)) return { key: 'gce_subnetwork' };
  if (/network/i.test(message)) return { key: 'gce_network' };
  if (/machine ?type/i.test(message)) return { key: 'allocation' };
  if (/image/i.test(message)) return { key: 'image' };
  return {};
}

/** The address of an instance's first interface: external (NAT) and internal. */
function addressesOf(instance: GceInstance): { publicAddress?: string; privateAddress?: string } {
  const nic = instance.networkInterfaces?.[0];
  const nat = nic?.accessConfigs?.find((a) => a.natIP)?.natIP ?? undefined;
  const internal = nic?.networkIP ?? undefined;
  return {
    ...(nat !== undefined && nat !== null && { publicAddress: nat }),
    ...(internal !== undefined && internal !== null && { privateAddress: internal }),
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

/** The longest common prefix of some names. */
function commonPrefix(names: readonly string[]): string {
  let prefix = names[0] ?? '';
  for (const name of names) {
    while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

class GceDriver implements Driver {
  readonly name = GCE_DRIVER_NAME;
  readonly capabilities = { launchesMachines: true, findsByTags: true } as const;
  readonly #options: GceDriverOptions;
  readonly #client: GceClient;
  /** Lookups of this account: image, machine type, network, SSH key, by what was asked. */
  readonly #lookups = new Map<string, Promise<string>>();

  constructor(options: GceDriverOptions) {
    this.#options = options;
    this.#client = new GceClient(options);
  }

  /** Sends every API request of the account in its pace. */
  usePace(pace: RequestPace): void {
    this.#client.usePace(pace);
  }

  /**
   * A lookup made once per driver. A failure that may pass (throttling, a
   * network error) is forgotten so the next launch asks again; a permanent
   * one (not found) is kept, so a hundred services with the same wrong
   * image make one call.
   */
  #lookup(key: string, fetch: () => Promise<string>): Promise<string> {
    let found = this.#lookups.get(key);
    if (found === undefined) {
      found = fetch().catch((error: unknown) => {
        const kind = kindOf(failureOf(error));
        if (kind === 'throttled' || kind === 'transient') this.#lookups.delete(key);
        throw error;
      });
      this.#lookups.set(key, found);
    }
    return found;
  }

  async #sourceImage(project: string, image: string, context: GceErrorContext): Promise<string> {
    const path = image.includes('/')
      ? partial(image)
      : `projects/${project}/global/images/${image}`;
    const m = IMAGE.exec(path);
    if (m === null) {
      throw new DriverError(
        'invalid-request',
        GCE,
        `service ${context.service}: image is "${image}"; expected projects/PROJECT/global/images/NAME or projects/PROJECT/global/images/family/FAMILY`,
      );
    }
    const [, imageProject = '', family, name = ''] = m;
    // A family is resolved once per run, so every service boots the same image.
    return this.#lookup(`image:${path}`, async () =>
      partial(await this.#client.image(imageProject, name, family !== undefined)),
    ).catch((error: unknown) => {
      throw toGceError(error, { ...context, subject: `image ${path}`, key: 'image' });
    });
  }

  async #machineType(project: string, type: string, context: GceErrorContext): Promise<string> {
    const zone = this.#options.zone;
    return this.#lookup(`machineType:${project}/${zone}/${type}`, async () => {
      await this.#client.machineType(project, zone, type);
      return `zones/${zone}/machineTypes/${type}`;
    }).catch((error: unknown) => {
      throw toGceError(error, {
        ...context,
        subject: `machine type ${type} in zone ${zone}`,
        key: 'allocation',
      });
    });
  }

  async #network(project: string, context: GceErrorContext) {
    const { network, subnetwork, zone } = this.#options;
    const refs: { network?: string; subnetwork?: string } = {};
    if (network !== undefined) {
      const path = network.includes('/')
        ? partial(network)
        : `projects/${project}/global/networks/${network}`;
      const m = NETWORK.exec(path);
      if (m === null) {
        throw new DriverError(
          'invalid-request',
          GCE,
          `service ${context.service}: gce_network is "${network}"; expected a network name or projects/PROJECT/global/networks/NAME`,
        );
      }
      refs.network = await this.#lookup(`network:${path}`, async () => {
        await this.#client.network(m[1] ?? '', m[2] ?? '');
        return path;
      }).catch((error: unknown) => {
        throw toGceError(error, { ...context, subject: `network ${path}`, key: 'gce_network' });
      });
    }
    if (subnetwork !== undefined) {
      const region = zone.replace(/-[a-z]$/, '');
      const path = subnetwork.includes('/')
        ? partial(subnetwork)
        : `projects/${project}/regions/${region}/subnetworks/${subnetwork}`;
      const m = SUBNETWORK.exec(path);
      if (m === null) {
        throw new DriverError(
          'invalid-request',
          GCE,
          `service ${context.service}: gce_subnetwork is "${subnetwork}"; expected a subnetwork name or projects/PROJECT/regions/REGION/subnetworks/NAME`,
        );
      }
      refs.subnetwork = await this.#lookup(`subnetwork:${path}`, async () => {
        await this.#client.subnetwork(m[1] ?? '', m[2] ?? '', m[3] ?? '');
        return path;
      }).catch((error: unknown) => {
        throw toGceError(error, {
          ...context,
          subject: `subnetwork ${path}`,
          key: 'gce_subnetwork',
        });
      });
    }
    return refs;
  }

  /** The `ssh-keys` item: `<ssh_username>:<public key> <ssh_username>`, when a key file is set. */
  async #sshKeys(spec: LaunchSpec): Promise<string | undefined> {
    const keyPath = spec.options.localsshkeypath;
    if (keyPath === undefined) return undefined;
    const user = spec.options.ssh_username ?? userInfo().username;
    const key = await this.#lookup(`ssh-key:${keyPath}`, () => publicKeyFor(keyPath)).catch(
      (error: unknown) => {
        throw new DriverError(
          'invalid-request',
          GCE,
          `service ${spec.service}: ${(error as Error).message}`,
        );
      },
    );
    return `${user}:${key} ${user}`;
  }

  async #resource(
    spec: LaunchSpec,
    context: LaunchContext,
    project: string,
    name: string,
  ): Promise<GceInstance> {
    const o = this.#options;
    const where: GceErrorContext = { service: spec.service };
    if (spec.image === undefined || spec.allocation === undefined) {
      throw new DriverError(
        'invalid-request',
        GCE,
        `service ${spec.service}: ${spec.image === undefined ? 'image' : 'allocation'} is not set; expected ${spec.image === undefined ? 'an image such as projects/debian-cloud/global/images/family/debian-12' : 'a machine type such as e2-small'}`,
      );
    }
    const [sourceImage, machineType, network, sshKeys] = await Promise.all([
      this.#sourceImage(project, spec.image, where),
      this.#machineType(project, spec.allocation, where),
      this.#network(project, where),
      this.#sshKeys(spec),
    ]);
    const labels = sanitiseLabels({ ...o.tags, ...context.tags });
    return {
      name,
      machineType,
      labels,
      ...(sshKeys !== undefined && { metadata: { items: [{ key: 'ssh-keys', value: sshKeys }] } }),
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: {
            sourceImage,
            labels,
            ...(o.diskSizeGb !== undefined && { diskSizeGb: o.diskSizeGb }),
          },
        },
      ],
      networkInterfaces: [
        {
          ...network,
          accessConfigs:
            o.sshAddress === 'public' ? [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] : [],
        },
      ],
      ...(spec.securityGroups.length > 0 && {
        tags: { items: spec.securityGroups.map((g) => g.toLowerCase()) },
      }),
      ...(o.provisioning === 'spot' && { scheduling: { provisioningModel: 'SPOT' } }),
      ...(o.provisioning === 'preemptible' && { scheduling: { preemptible: true } }),
      ...(o.serviceAccount !== undefined && {
        serviceAccounts: [{ email: o.serviceAccount, scopes: [...o.scopes] }],
      }),
    };
  }

  async launch(spec: LaunchSpec, context: LaunchContext): Promise<{ instanceId: string }> {
    const where: GceErrorContext = { service: spec.service };
    const project = await this.#client.project();
    const zone = this.#options.zone;
    const name = instanceName(context.tags['cloudboot-run'] ?? 'run', spec.service, context.token);
    const instanceId = idOf({ project, zone, name });

    const resource = await this.#resource(spec, context, project, name);
    let operation: Awaited<ReturnType<GceClient['insertInstance']>>;
    try {
      operation = await this.#client.insertInstance(
        project,
        zone,
        requestIdFor(context.token),
        resource,
        context.signal,
      );
    } catch (error) {
      const failure = failureOf(error);
      // The name is taken: by this launch's first call (resumed after the
      // requestId was forgotten), or by an instance that is not ours.
      if (isAlreadyExists(failure)) return this.#adopt(project, zone, name, spec, context);
      const kind = kindOf(failure);
      // Without an answer the instance may exist: name it, so it is never lost.
      const maybeMade = kind === 'transient' ? instanceId : undefined;
      throw gceError(failure, { ...where, ...insertSubject(failure.message) }, maybeMade);
    }
    let done: typeof operation;
    try {
      done = await this.#client.waitOperation(project, zone, operation, context.signal);
    } catch (error) {
      throw gceError(failureOf(error), where, instanceId);
    }
    const failed = operationFailure(done);
    // A failed insert operation leaves no instance behind.
    if (failed !== undefined) throw gceError(failed, where);
    return { instanceId };
  }

  /**
   * Takes over the instance named `name` when this launch made it (its
   * `cloudboot-token` label is the launch token's).
   * @throws DriverError `invalid-request` when another launch or a
   *   stranger made it; `transient` when it went away meanwhile.
   */
  async #adopt(
    project: string,
    zone: string,
    name: string,
    spec: LaunchSpec,
    context: LaunchContext,
  ): Promise<{ instanceId: string }> {
    let existing: GceInstance;
    try {
      existing = await this.#client.getInstance(project, zone, name, context.signal);
    } catch (error) {
      if (!isNotFound(error)) throw toGceError(error, { service: spec.service });
      throw new DriverError(
        'transient',
        GCE,
        `service ${spec.service}: instance ${name} existed when it was inserted and is gone now; cloudboot retries`,
      );
    }
    if (existing.labels?.['cloudboot-token'] !== labelValue(context.token)) {
      throw new DriverError(
        'invalid-request',
        GCE,
        `service ${spec.service}: instance ${name} already exists and was not made by this launch (its cloudboot-token label differs); delete it or use another run name`,
      );
    }
    return { instanceId: idOf({ project, zone, name }) };
  }

  #info(instanceId: string, instance: GceInstance | undefined): InstanceInfo {
    if (instance === undefined) {
      return { instanceId, state: 'vanished', nativeState: 'not found' };
    }
    const status = String(instance.status ?? 'UNKNOWN');
    const zone = refOf(instanceId)?.zone;
    const addresses = addressesOf(instance);
    const address =
      this.#options.sshAddress === 'public' ? addresses.publicAddress : addresses.privateAddress;
    return {
      instanceId,
      state: stateOf(status),
      nativeState: status,
      ...(address !== undefined && { address }),
      ...addresses,
      tags: { ...(instance.labels ?? {}) },
      // Published as the service's `zone` attribute, as other drivers publish theirs.
      ...(zone !== undefined && { attributes: { zone } }),
    };
  }

  async describe(instanceIds: readonly string[], context?: CallContext): Promise<InstanceInfo[]> {
    const groups = new Map<string, { project: string; zone: string; names: Set<string> }>();
    for (const id of instanceIds) {
      const ref = refOf(id);
      if (ref === undefined) continue;
      const key = `${ref.project}/${ref.zone}`;
      const group = groups.get(key) ?? { project: ref.project, zone: ref.zone, names: new Set() };
      group.names.add(ref.name);
      groups.set(key, group);
    }
    const found = new Map<string, GceInstance>();
    // One list per project and zone, whatever the number of instances: their
    // names share a prefix (`cb-<run>-`), and the filter asks for it.
    await Promise.all(
      [...groups.values()].map(async ({ project, zone, names }) => {
        const filter = `name eq "${commonPrefix([...names])}.*"`;
        let listed: GceInstance[];
        try {
          listed = await this.#client.listInstances(project, zone, filter, context?.signal);
        } catch (error) {
          throw toGceError(error);
        }
        for (const instance of listed) {
          const name = String(instance.name ?? '');
          if (names.has(name)) found.set(idOf({ project, zone, name }), instance);
        }
      }),
    );
    return instanceIds.map((id) => this.#info(id, found.get(id)));
  }

  async terminate(instanceIds: readonly string[], context?: CallContext): Promise<void> {
    const refs = [...new Set(instanceIds)]
      .map(refOf)
      .filter((r): r is InstanceRef => r !== undefined);
    const failures: DriverError[] = [];
    await eachLimited(refs, 8, async (ref) => {
      try {
        await this.#client.deleteInstance(ref.project, ref.zone, ref.name, context?.signal);
      } catch (error) {
        // Already gone is what was asked for.
        if (!isNotFound(error)) failures.push(toGceError(error));
      }
    });
    if (failures[0] !== undefined) throw failures[0];
  }

  async validate(context?: CallContext): Promise<void> {
    try {
      const project = await this.#client.project();
      await this.#client.getZone(project, this.#options.zone, context?.signal);
    } catch (error) {
      throw toGceError(error, { subject: `zone ${this.#options.zone}`, key: 'iaas' });
    }
  }

  async findByTags(
    tags: Readonly<Record<string, string>>,
    context?: CallContext,
  ): Promise<InstanceInfo[]> {
    const labels = sanitiseLabels(tags);
    const filter = Object.entries(labels)
      .map(([k, v]) => `(labels.${k} = "${v}")`)
      .join(' ');
    try {
      const project = await this.#client.project();
      const zone = this.#options.zone;
      const listed = await this.#client.listInstances(project, zone, filter, context?.signal);
      return listed.map((instance) =>
        this.#info(idOf({ project, zone, name: String(instance.name) }), instance),
      );
    } catch (error) {
      throw toGceError(error);
    }
  }
}

/**
 * Creates the gce driver from a service's keys (see `GceDriverOptions` for
 * what it reads). No I/O happens here.
 *
 * - `launch` names the instance `cb-<run>-<service>-<token prefix>` and
 *   inserts it with a `requestId` derived from the token (a repeated insert
 *   gets the first one's operation), then waits for the zone operation: two
 *   requests. When the name is taken (a resumed launch after Compute Engine
 *   forgot the `requestId`), it asks for the instance by that name and
 *   adopts it if its `cloudboot-token` label is the token's. If it rejects,
 *   no instance was made, unless the error's `instanceId` names one (the
 *   answer was lost).
 * - `describe` makes one `instances.list` per project and zone.
 * - `terminate` deletes; an instance that is already gone is fine. Safe twice.
 * - `findByTags` lists by the `cloudboot-*` labels (sanitised as labels are).
 *
 * @throws DriverError (`invalid-request`) listing every settings problem.
 * @example createDriver({ iaas: 'us-central1-a', gce_project: 'my-project' })
 */
export function createDriver(settings: DriverSettings): Driver {
  return new GceDriver(parseGceSettings(settings));
}
