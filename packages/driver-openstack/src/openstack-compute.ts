/**
 * The Nova, Glance and Neutron calls of the driver, over a
 * {@link KeystoneSession}: lookups of images, flavors, networks and key
 * pairs; servers listed (filtered by name), created and deleted; ports and
 * floating IPs.
 */
import type { KeystoneSession } from './openstack-auth.js';
import { driverError, type OpenstackService } from './openstack-errors.js';

/** One address of a server (Nova `addresses`). */
export interface ServerAddress {
  readonly addr: string;
  readonly version?: number;
  readonly 'OS-EXT-IPS:type'?: 'fixed' | 'floating' | string;
}

/** The parts of a Nova server document the driver reads. */
export interface Server {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly 'OS-EXT-STS:task_state'?: string | null;
  readonly 'OS-EXT-AZ:availability_zone'?: string;
  readonly addresses?: Readonly<Record<string, readonly ServerAddress[]>>;
  readonly accessIPv4?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly fault?: { readonly code?: number; readonly message?: string };
}

/** A Neutron floating IP. */
export interface FloatingIp {
  readonly id: string;
  readonly floating_ip_address: string;
  readonly port_id: string | null;
  readonly description?: string;
}

/** The server create request (Nova `POST /servers`, microversion 2.1). */
export interface ServerCreate {
  readonly name: string;
  readonly imageRef: string;
  readonly flavorRef: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly networks?: ReadonlyArray<{ readonly uuid: string }>;
  readonly key_name?: string;
  readonly security_groups?: ReadonlyArray<{ readonly name: string }>;
  readonly availability_zone?: string;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Servers listed per page (Nova's default maximum). */
const PAGE = 1000;

/**
 * The text of `value` quoted for Nova's name filter, a regular expression
 * the database evaluates (MySQL `REGEXP`, Python `re` on SQLite): only the
 * metacharacters common to all of them are escaped.
 */
export function regexQuote(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function notFound(service: OpenstackService, what: string, ref: string, hint: string) {
  return driverError('not-found', service, `${what} "${ref}" does not exist (${hint})`);
}

function ambiguous(service: OpenstackService, what: string, ref: string, ids: string[]) {
  return driverError(
    'invalid-request',
    service,
    `${ids.length} ${what}s are named "${ref}" (${ids.join(', ')}); give the id of the one to use`,
  );
}

/** Nova, Glance and Neutron as the driver uses them. */
export class OpenstackCompute {
  readonly #session: KeystoneSession;

  constructor(session: KeystoneSession) {
    this.#session = session;
  }

  /** The id of an image given by name or id (Glance v2). */
  async imageId(ref: string, signal?: AbortSignal): Promise<string> {
    const action = `look up image "${ref}"`;
    if (UUID.test(ref)) {
      const byId = await this.#session.request('image', {
        method: 'GET',
        path: `/images/${encodeURIComponent(ref)}`,
        action,
        accept: [404],
        ...(signal !== undefined && { signal }),
      });
      if (byId.status !== 404) return (byId.body as { id: string }).id;
    }
    const { body } = await this.#session.request('image', {
      method: 'GET',
      path: `/images?name=${encodeURIComponent(ref)}`,
      action,
      ...(signal !== undefined && { signal }),
    });
    const ids = ((body as { images?: Array<{ id: string }> }).images ?? []).map((i) => i.id);
    if (ids.length === 0) throw notFound('Glance', 'image', ref, 'by name or id: the image key');
    if (ids.length > 1) throw ambiguous('Glance', 'image', ref, ids);
    return ids[0] as string;
  }

  /** The id of a flavor given by name or id. */
  async flavorId(ref: string, signal?: AbortSignal): Promise<string> {
    const { body } = await this.#session.request('compute', {
      method: 'GET',
      path: '/flavors/detail',
      action: `look up flavor "${ref}"`,
      ...(signal !== undefined && { signal }),
    });
    const flavors = (body as { flavors?: Array<{ id: string; name: string }> }).flavors ?? [];
    const byId = flavors.find((f) => f.id === ref);
    if (byId !== undefined) return byId.id;
    const named = flavors.filter((f) => f.name === ref).map((f) => f.id);
    if (named.length === 0) {
      throw notFound(
        'Nova',
        'flavor',
        ref,
        `the allocation key; the cloud has ${flavors.map((f) => f.name).join(', ') || 'none'}`,
      );
    }
    if (named.length > 1) throw ambiguous('Nova', 'flavor', ref, named);
    return named[0] as string;
  }

  /** The id of a network given by name or id (Neutron). */
  async networkId(ref: string, key: string, signal?: AbortSignal): Promise<string> {
    const action = `look up network "${ref}"`;
    const query = UUID.test(ref)
      ? `id=${encodeURIComponent(ref)}`
      : `name=${encodeURIComponent(ref)}`;
    const { body } = await this.#session.request('network', {
      method: 'GET',
      path: `/networks?${query}`,
      action,
      ...(signal !== undefined && { signal }),
    });
    const ids = ((body as { networks?: Array<{ id: string }> }).networks ?? []).map((n) => n.id);
    if (ids.length === 0)
      throw notFound('Neutron', 'network', ref, `by name or id: the ${key} key`);
    if (ids.length > 1) throw ambiguous('Neutron', 'network', ref, ids);
    return ids[0] as string;
  }

  /** Checks that a key pair exists. */
  async checkKeyPair(name: string, signal?: AbortSignal): Promise<void> {
    const answer = await this.#session.request('compute', {
      method: 'GET',
      path: `/os-keypairs/${encodeURIComponent(name)}`,
      action: `look up key pair "${name}"`,
      accept: [404],
      ...(signal !== undefined && { signal }),
    });
    if (answer.status === 404) {
      throw notFound('Nova', 'key pair', name, 'the sshkeyname key; openstack keypair list');
    }
  }

  /** Every server whose name matches the regular expression `name` (all pages). */
  async servers(name: string, signal?: AbortSignal): Promise<Server[]> {
    const servers: Server[] = [];
    let marker: string | undefined;
    for (;;) {
      const query = `name=${encodeURIComponent(name)}&limit=${PAGE}${marker !== undefined ? `&marker=${encodeURIComponent(marker)}` : ''}`;
      const { body } = await this.#session.request('compute', {
        method: 'GET',
        path: `/servers/detail?${query}`,
        action: 'list servers',
        ...(signal !== undefined && { signal }),
      });
      const page = (body as { servers?: Server[] }).servers ?? [];
      servers.push(...page);
      const next = (body as { servers_links?: Array<{ rel: string }> }).servers_links?.some(
        (l) => l.rel === 'next',
      );
      if (!next || page.length === 0) return servers;
      marker = page[page.length - 1]?.id;
    }
  }

  /**
   * Creates a server and returns its id.
   * @throws DriverError; when no answer came, the server may exist: the caller looks for it by name.
   */
  async createServer(server: ServerCreate, signal?: AbortSignal): Promise<string> {
    const { body } = await this.#session.request('compute', {
      method: 'POST',
      path: '/servers',
      body: { server },
      action: `create server ${server.name}`,
      ...(signal !== undefined && { signal }),
    });
    const id = (body as { server?: { id?: string } } | undefined)?.server?.id;
    if (id === undefined) {
      throw driverError(
        'transient',
        'Nova',
        `create server ${server.name}: the answer has no server id`,
      );
    }
    return id;
  }

  /** Deletes a server; one that is already gone is fine. */
  async deleteServer(id: string, signal?: AbortSignal): Promise<void> {
    await this.#session.request('compute', {
      method: 'DELETE',
      path: `/servers/${encodeURIComponent(id)}`,
      action: `delete server ${id}`,
      accept: [404],
      ...(signal !== undefined && { signal }),
    });
  }

  /** Floating IPs of an external network. */
  async floatingIps(networkId: string, signal?: AbortSignal): Promise<FloatingIp[]> {
    const { body } = await this.#session.request('network', {
      method: 'GET',
      path: `/floatingips?floating_network_id=${encodeURIComponent(networkId)}`,
      action: 'list floating IPs',
      ...(signal !== undefined && { signal }),
    });
    return (body as { floatingips?: FloatingIp[] }).floatingips ?? [];
  }

  /** Creates a floating IP on `networkId` and associates it with the server's first port. */
  async attachFloatingIp(
    networkId: string,
    serverId: string,
    description: string,
    signal?: AbortSignal,
  ): Promise<FloatingIp> {
    const { body } = await this.#session.request('network', {
      method: 'GET',
      path: `/ports?device_id=${encodeURIComponent(serverId)}`,
      action: `list ports of server ${serverId}`,
      ...(signal !== undefined && { signal }),
    });
    const port = (body as { ports?: Array<{ id: string }> }).ports?.[0];
    if (port === undefined) {
      throw driverError(
        'transient',
        'Neutron',
        `server ${serverId} has no port yet for a floating IP`,
      );
    }
    const created = await this.#session.request('network', {
      method: 'POST',
      path: '/floatingips',
      body: { floatingip: { floating_network_id: networkId, port_id: port.id, description } },
      action: `create a floating IP for server ${serverId}`,
      ...(signal !== undefined && { signal }),
    });
    return (created.body as { floatingip: FloatingIp }).floatingip;
  }

  /** Releases a floating IP; one that is already gone is fine. */
  async deleteFloatingIp(id: string, signal?: AbortSignal): Promise<void> {
    await this.#session.request('network', {
      method: 'DELETE',
      path: `/floatingips/${encodeURIComponent(id)}`,
      action: `release floating IP ${id}`,
      accept: [404],
      ...(signal !== undefined && { signal }),
    });
  }
}
