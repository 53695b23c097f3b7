/**
 * The OpenStack driver: servers on Nova, images from Glance, networks and
 * floating IPs from Neutron, all through one Keystone session per driver
 * (one account and region).
 *
 * Nova has no client token, so a launch is made idempotent by the server's
 * name, `cb-<run>-<service>-<token prefix>`, and its metadata
 * `cloudboot-run`, `cloudboot-service` and `cloudboot-token`: before
 * creating, the launch lists the servers of that name and adopts the one
 * whose `cloudboot-token` is the launch token.
 */
import { homedir } from 'node:os';
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
import { type FetchFunction, KeystoneSession, type ServiceType } from './openstack-auth.js';
import { type ConfigPlaces, resolveAuthConfig } from './openstack-clouds.js';
import {
  type FloatingIp,
  OpenstackCompute,
  regexQuote,
  type Server,
  type ServerCreate,
} from './openstack-compute.js';
import { driverError, OPENSTACK_DRIVER_NAME } from './openstack-errors.js';
import { type OpenstackSettings, parseOpenstackSettings } from './openstack-settings.js';
import { openstackState } from './openstack-states.js';

export { OPENSTACK_DRIVER_NAME };

/** Where the driver looks for configuration, and its HTTP client; the process's own by default. */
export interface OpenstackDriverOptions {
  /** Environment for `OS_CLOUD` and the `OS_*` variables. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory searched first for clouds.yaml and secure.yaml. */
  readonly cwd?: string;
  /** Home directory (for `~/.config/openstack`). */
  readonly home?: string;
  /** The system configuration directory, `/etc/openstack`. */
  readonly systemDir?: string;
  readonly fetch?: FetchFunction;
}

/** Every server cloudboot names starts with this. */
const NAME_PREFIX = 'cb-';
/** How many characters of the launch token go into the server name. */
const TOKEN_PREFIX = 8;
/** Description of the floating IPs the driver creates, for finding them again. */
const FLOATING_IP_TAG = 'cloudboot-server:';
/** Servers deleted at once. */
const DELETE_CONCURRENCY = 8;

/** The deterministic server name of a launch. */
export function serverName(run: string, service: string, token: string): string {
  return `${NAME_PREFIX}${run}-${service}-${token.replace(/-/g, '').slice(0, TOKEN_PREFIX)}`;
}

function firstAddress(server: Server, type: 'fixed' | 'floating'): string | undefined {
  const all = Object.values(server.addresses ?? {}).flat();
  const ofType = all.filter((a) => (a['OS-EXT-IPS:type'] ?? 'fixed') === type);
  return (ofType.find((a) => a.version !== 6) ?? ofType[0])?.addr;
}

function nativeStateOf(server: Server): string {
  const task = server['OS-EXT-STS:task_state'];
  const base = task ? `${server.status}/${task}` : server.status;
  return server.status === 'ERROR' && server.fault?.message
    ? `${base}: ${server.fault.message}`
    : base;
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(each));
  }
}

/** The OpenStack driver for one account and region (see the module comment). */
class OpenstackDriver implements Driver {
  readonly name = OPENSTACK_DRIVER_NAME;
  readonly capabilities = { launchesMachines: true, findsByTags: true } as const;
  readonly #settings: OpenstackSettings;
  readonly #compute: OpenstackCompute;
  readonly #session: KeystoneSession;
  /** Image, flavor, network and key-pair lookups of this driver (successful ones). */
  readonly #lookups = new Map<string, Promise<string>>();
  /** Floating IPs being attached, by server id. */
  readonly #attaching = new Map<string, Promise<string | undefined>>();

  constructor(settings: OpenstackSettings, options: OpenstackDriverOptions) {
    this.#settings = settings;
    const places: ConfigPlaces = {
      env: options.env ?? process.env,
      cwd: options.cwd ?? process.cwd(),
      home: options.home ?? homedir(),
      systemDir: options.systemDir ?? '/etc/openstack',
    };
    this.#session = new KeystoneSession(() => resolveAuthConfig(settings, places), options.fetch);
    this.#compute = new OpenstackCompute(this.#session);
  }

  /** Sends every API request of the account (Keystone's included) in its pace. */
  usePace(pace: RequestPace): void {
    this.#session.usePace(pace);
  }

  /**
   * Creates the server of this launch, or adopts the one an earlier attempt
   * with the same token created. Rejects with kind `not-found` naming an
   * image, flavor, network or key pair that does not exist; nothing was
   * created then. When the create call got no answer, the server is looked
   * for at once; if that fails too, the launch rejects with kind `transient`
   * and repeating it with the same token adopts the server.
   */
  async launch(spec: LaunchSpec, context: LaunchContext): Promise<{ instanceId: string }> {
    const signal = context.signal;
    const run = context.tags['cloudboot-run'] ?? 'run';
    const service = context.tags['cloudboot-service'] ?? spec.service;
    const name = serverName(run, service, context.token);
    // Nova has no idempotency token: unless this is the token's first call,
    // an earlier one may have made the server, found by its name and token.
    if (context.firstCall !== true) {
      const adopted = await this.#adoptable(name, context.token, signal);
      if (adopted !== undefined) return { instanceId: adopted };
    }

    const missing = [
      spec.image === undefined ? 'image (an image name or id)' : undefined,
      spec.allocation === undefined ? 'allocation (a flavor name or id)' : undefined,
    ].filter((m) => m !== undefined);
    if (missing.length > 0) {
      throw driverError(
        'invalid-request',
        'Nova',
        `service ${spec.service} has no ${missing.join(' and no ')}`,
      );
    }
    const settings = this.#settings;
    const [imageRef, flavorRef, network] = await Promise.all([
      this.#lookup('image', spec.image as string, () =>
        this.#compute.imageId(spec.image as string, signal),
      ),
      this.#lookup('flavor', spec.allocation as string, () =>
        this.#compute.flavorId(spec.allocation as string, signal),
      ),
      settings.network === undefined
        ? undefined
        : this.#networkId(settings.network, 'os_network', signal),
      spec.keyName === undefined
        ? undefined
        : this.#lookup('keypair', spec.keyName, async () => {
            await this.#compute.checkKeyPair(spec.keyName as string, signal);
            return spec.keyName as string;
          }),
    ]);
    const request: ServerCreate = {
      name,
      imageRef,
      flavorRef,
      metadata: { ...settings.tags, ...context.tags },
      ...(network !== undefined && { networks: [{ uuid: network }] }),
      ...(spec.keyName !== undefined && { key_name: spec.keyName }),
      ...(spec.securityGroups.length > 0 && {
        security_groups: spec.securityGroups.map((g) => ({ name: g })),
      }),
      ...(settings.availabilityZone !== undefined && {
        availability_zone: settings.availabilityZone,
      }),
    };
    try {
      return { instanceId: await this.#compute.createServer(request, signal) };
    } catch (error) {
      // No answer: the server may exist. Look once now, so that a lost answer
      // costs one list call rather than a retry; failing that, the next
      // launch with this token adopts it.
      if (!(error instanceof DriverError) || error.kind !== 'transient') throw error;
      const found = await this.#adoptable(name, context.token, signal).catch(() => undefined);
      if (found === undefined) throw error;
      return { instanceId: found };
    }
  }

  /** The id of the server named `name` that carries `token`, if there is one. */
  async #adoptable(name: string, token: string, signal?: AbortSignal): Promise<string | undefined> {
    const servers = await this.#compute.servers(`^${regexQuote(name)}$`, signal);
    return servers.find((s) => s.metadata?.['cloudboot-token'] === token)?.id;
  }

  /**
   * Describes servers with one filtered `GET /servers/detail` (every
   * cloudboot server of the project, all pages) per call. A server in
   * `ERROR` carries Nova's fault message in `nativeState`. With
   * `os_floating_ip_pool` and `ssh_address: public`, a running server
   * without a floating IP gets one here.
   */
  async describe(instanceIds: readonly string[], context?: CallContext): Promise<InstanceInfo[]> {
    if (instanceIds.length === 0) return [];
    const servers = await this.#compute.servers(`^${NAME_PREFIX}`, context?.signal);
    const byId = new Map(servers.map((s) => [s.id, s]));
    const floating = await this.#floatingAddresses(
      instanceIds.map((id) => byId.get(id)).filter((s) => s !== undefined),
      context?.signal,
    );
    return instanceIds.map((id) => {
      const server = byId.get(id);
      return server === undefined
        ? { instanceId: id, state: 'vanished', nativeState: 'not found' }
        : this.#info(server, floating.get(id));
    });
  }

  /**
   * Deletes servers (one `DELETE` each; Nova has no batch delete) after
   * releasing the floating IPs the driver created for them. Servers that
   * are gone already are fine; safe to call twice.
   */
  async terminate(instanceIds: readonly string[], context?: CallContext): Promise<void> {
    const signal = context?.signal;
    const pool = this.#settings.floatingIpPool;
    if (pool !== undefined && this.#settings.sshAddress === 'public') {
      const poolId = await this.#networkId(pool, 'os_floating_ip_pool', signal);
      const wanted = new Set(instanceIds.map((id) => `${FLOATING_IP_TAG}${id}`));
      const ours = (await this.#compute.floatingIps(poolId, signal)).filter((f) =>
        wanted.has(f.description ?? ''),
      );
      await inBatches(ours, DELETE_CONCURRENCY, (f) =>
        this.#compute.deleteFloatingIp(f.id, signal),
      );
    }
    await inBatches(instanceIds, DELETE_CONCURRENCY, (id) =>
      this.#compute.deleteServer(id, signal),
    );
  }

  /** Authenticates and checks that the catalog has the endpoints the settings need; launches nothing. */
  async validate(context?: CallContext): Promise<void> {
    const types: ServiceType[] = ['compute', 'image'];
    if (this.#settings.network !== undefined || this.#settings.floatingIpPool !== undefined) {
      types.push('network');
    }
    await this.#session.check(types, context?.signal);
  }

  /** Servers carrying all of `tags` in their metadata (one filtered list). */
  async findByTags(
    tags: Readonly<Record<string, string>>,
    context?: CallContext,
  ): Promise<InstanceInfo[]> {
    const run = tags['cloudboot-run'];
    const prefix = run === undefined ? NAME_PREFIX : `${NAME_PREFIX}${run}-`;
    const servers = await this.#compute.servers(`^${regexQuote(prefix)}`, context?.signal);
    return servers
      .filter((s) => Object.entries(tags).every(([k, v]) => s.metadata?.[k] === v))
      .map((s) => this.#info(s, undefined));
  }

  #info(server: Server, floatingAddress: string | undefined): InstanceInfo {
    const privateAddress = firstAddress(server, 'fixed');
    const publicAddress =
      firstAddress(server, 'floating') ?? floatingAddress ?? (server.accessIPv4 || undefined);
    const settings = this.#settings;
    // Without a floating IP pool, a public address may never come: the fixed
    // address is then the one to use (provider networks route it).
    const address =
      settings.sshAddress === 'private'
        ? privateAddress
        : (publicAddress ?? (settings.floatingIpPool === undefined ? privateAddress : undefined));
    // Empty until the scheduler placed a server that asked for no zone.
    const zone = server['OS-EXT-AZ:availability_zone'];
    return {
      instanceId: server.id,
      state: openstackState(server.status, server['OS-EXT-STS:task_state']),
      nativeState: nativeStateOf(server),
      ...(address !== undefined && { address }),
      ...(publicAddress !== undefined && { publicAddress }),
      ...(privateAddress !== undefined && { privateAddress }),
      ...(server.metadata !== undefined && { tags: { ...server.metadata } }),
      ...(zone ? { attributes: { availability_zone: zone } } : {}),
    };
  }

  /** Floating addresses of running servers that need one and have none in Nova's answer yet. */
  async #floatingAddresses(
    servers: readonly Server[],
    signal?: AbortSignal,
  ): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const pool = this.#settings.floatingIpPool;
    if (pool === undefined || this.#settings.sshAddress !== 'public') return found;
    const needing = servers.filter(
      (s) =>
        s.status === 'ACTIVE' &&
        !s['OS-EXT-STS:task_state'] &&
        firstAddress(s, 'floating') === undefined,
    );
    if (needing.length === 0) return found;
    const poolId = await this.#networkId(pool, 'os_floating_ip_pool', signal);
    const existing = new Map<string, FloatingIp>();
    for (const f of await this.#compute.floatingIps(poolId, signal)) {
      if (f.description?.startsWith(FLOATING_IP_TAG)) {
        existing.set(f.description.slice(FLOATING_IP_TAG.length), f);
      }
    }
    await Promise.all(
      needing.map(async (server) => {
        const known = existing.get(server.id);
        const address =
          known?.floating_ip_address ?? (await this.#attachOnce(poolId, server.id, signal));
        if (address !== undefined) found.set(server.id, address);
      }),
    );
    return found;
  }

  #attachOnce(poolId: string, serverId: string, signal?: AbortSignal): Promise<string | undefined> {
    let attaching = this.#attaching.get(serverId);
    if (attaching === undefined) {
      attaching = this.#compute
        .attachFloatingIp(poolId, serverId, `${FLOATING_IP_TAG}${serverId}`, signal)
        .then((f) => f.floating_ip_address)
        .finally(() => this.#attaching.delete(serverId));
      this.#attaching.set(serverId, attaching);
    }
    return attaching;
  }

  #networkId(ref: string, key: string, signal?: AbortSignal): Promise<string> {
    return this.#lookup('network', ref, () => this.#compute.networkId(ref, key, signal));
  }

  /** A cached lookup; a failed one is asked again next time. */
  #lookup(kind: string, ref: string, find: () => Promise<string>): Promise<string> {
    const key = `${kind}:${ref}`;
    let found = this.#lookups.get(key);
    if (found === undefined) {
      found = find();
      this.#lookups.set(key, found);
      found.catch(() => this.#lookups.delete(key));
    }
    return found;
  }
}

/**
 * Creates the OpenStack driver from plan keys. Does no I/O: credentials
 * (clouds.yaml, secure.yaml, `OS_*`) are read and Keystone is asked on first use.
 * @throws DriverError `invalid-request` listing every problem with the keys.
 * @example createDriver({ os_cloud: 'mycloud', iaas: 'RegionOne' })
 */
export function createDriver(
  settings: DriverSettings,
  options: OpenstackDriverOptions = {},
): Driver {
  return new OpenstackDriver(parseOpenstackSettings(settings), options);
}
