/**
 * A fake OpenStack cloud speaking the real wire protocol on 127.0.0.1:
 * Keystone v3 (password and application-credential tokens with a service
 * catalog whose endpoints point back here), Nova v2.1 (servers, flavors,
 * key pairs), Glance v2 (images) and Neutron v2.0 (networks, ports,
 * floating IPs), with errors in each service's own JSON format.
 *
 * Servers get the given loopback addresses round-robin, so a plan booted
 * on it reaches real sshd test machines. Faults are injected through the
 * mutable `faults` object: throttling, no valid host, quota, lost answers,
 * slow boots, revoked tokens; `kill(id)` deletes a server outside cloudboot.
 *
 * Endpoints: Keystone at `<root>/identity/v3`; per region R and interface I,
 * Nova at `<root>/R/I/compute/v2.1`, Glance at `<root>/R/I/image`, Neutron at
 * `<root>/R/I/network`.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { prng } from '../support/prng.js';
import { bucketKeeper, type RateLimit } from './token-bucket.js';

/** A user the fake Keystone knows. */
export interface FakeUser {
  readonly name: string;
  readonly password: string;
  readonly domain: string;
  readonly project: string;
}

/** Options of {@link startOpenstackCloud}. */
export interface OpenstackCloudOptions {
  /** Loopback addresses where test sshd machines listen; servers get them round-robin. */
  readonly addresses?: readonly string[];
  /** Addresses floating IPs get, round-robin; by default the server's fixed address. */
  readonly floatingAddresses?: readonly string[];
  /** BUILD -> ACTIVE after this long (default 50 ms). */
  readonly bootDelayMs?: number;
  /** How long a deleted server stays listed with task state `deleting` (default 0). */
  readonly terminatedVisibleMs?: number;
  /** Lifetime of tokens (default one hour); short ones exercise renewal. */
  readonly tokenTtlMs?: number;
  /** Regions of the catalog (default `RegionOne`). */
  readonly regions?: readonly string[];
  /** Users (default `demo`/`secret` in domain `Default`, project `demo`). */
  readonly users?: readonly FakeUser[];
  /** Application credentials (default `app-cred-id`/`app-cred-secret`, project `demo`). */
  readonly applicationCredentials?: ReadonlyArray<{ readonly id: string; readonly secret: string }>;
  /** Image names (default `cirros`, `ubuntu-24.04`). */
  readonly images?: readonly string[];
  /** Flavor names; ids are 1, 2, … (default `m1.tiny`, `m1.small`). */
  readonly flavors?: readonly string[];
  /** Networks; `external` ones can give floating IPs (default `private`, and external `public`). */
  readonly networks?: ReadonlyArray<{ readonly name: string; readonly external?: boolean }>;
  /** Key pair names (default `cloudboot`). */
  readonly keypairs?: readonly string[];
  /** Security group names (default `default`). */
  readonly securityGroups?: readonly string[];
  /** Most servers per page, like Nova's `max_limit` (default 1000). */
  readonly maxLimit?: number;
  /** Seed of the PRNG behind `loseAnswerProbability`. */
  readonly seed?: number;
}

/** Faults to inject; change them at any time. */
export interface OpenstackFaults {
  /** Every Nth API call (Nova, Glance, Neutron) answers the throttling error. */
  throttleEvery?: number;
  /** The project's call rate limit: an API call finding the bucket empty answers the throttling error. */
  rateLimit?: RateLimit;
  /** Status of the throttling answer: 429 (default) or 413 (Nova's overLimit). */
  throttleStatus?: 413 | 429;
  /** Seconds the throttling answer's `Retry-After` asks the client to wait (default 1, as Nova's overLimit says). */
  retryAfterSeconds?: number;
  /** Servers of these flavors (names or ids) go to ERROR with "No valid host was found". */
  noValidHostFlavors?: string[];
  /** Servers asked for in these availability zones go to ERROR with "No valid host was found". */
  noValidHostZones?: string[];
  /** Images (names) that are gone: Glance does not list them and Nova refuses them. */
  missingImages?: string[];
  /** At most this many live servers; more answer 403 "Quota exceeded for instances". */
  instanceQuota?: number;
  /** The next N server creates create the server, then lose the answer (socket destroyed). */
  loseAnswers?: number;
  /** Each server create loses its answer with this probability (seeded). */
  loseAnswerProbability?: number;
  /** After each lost answer, this many API calls answer 500 (the network blip goes on). */
  failAfterLostAnswer?: number;
  /** Overrides the boot delay of servers created from now on. */
  bootDelayMs?: number;
  /** Keystone refuses every authentication. */
  failAuth?: boolean;
  /** Every API call answers 401, whatever the token (a token revoked at once). */
  rejectTokens?: boolean;
  /** The next N API calls answer 500. */
  serverErrors?: number;
}

/** A server as the fake keeps it. */
export interface FakeServer {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly imageId: string;
  readonly flavorId: string;
  readonly network: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** `cloudboot-token` metadata, if any. */
  readonly token: string | undefined;
  /** The fixed (and, without floating IPs, only) address. */
  readonly address: string;
  readonly portId: string;
  floatingAddress: string | undefined;
  readonly createdAt: number;
  readonly activeAt: number;
  /** Set when the server ends in ERROR. */
  readonly fault: string | undefined;
  /** The availability zone asked for, if any. */
  readonly zone: string | undefined;
  deletedAt: number | undefined;
  /** Deleted outside cloudboot (`kill`). */
  killed: boolean;
  /** A status set by `setStatus`, shown until the server is deleted. */
  held?: string;
}

/** What the fake shows of a server. */
export interface FakeInstance {
  readonly id: string;
  readonly name: string;
  readonly region: string;
  readonly token: string | undefined;
  /** Current Nova status (`DELETED` once gone). */
  readonly state: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly address: string;
  readonly floatingAddress: string | undefined;
  readonly imageId: string;
  readonly flavorId: string;
  readonly networkId: string;
}

/** A running fake cloud. */
export interface FakeOpenstackCloud {
  /** Keystone's v3 URL: what `iaas_url` takes. */
  readonly url: string;
  /** Root URL of the fake. */
  readonly root: string;
  /** The default user, project and application credential. */
  readonly user: FakeUser;
  readonly applicationCredential: { readonly id: string; readonly secret: string };
  readonly faults: OpenstackFaults;
  /** Every server ever created. */
  instances(): FakeInstance[];
  /** Calls by service, method and path pattern, e.g. `nova GET /servers/detail`. */
  callCounts(): Record<string, number>;
  /** API requests received so far: every one, authentication's and throttled ones included. */
  requests(): number;
  /** Deletes a server outside cloudboot (gone at once). */
  kill(id: string): void;
  /** Nova moves a server into `status` (`SHUTOFF`, `SHELVED` …) and keeps it there until it is deleted. */
  setStatus(id: string, status: string): void;
  /** Invalidates every token issued so far. */
  revokeTokens(): void;
  /** Floating IPs: address, server (if associated) and description. */
  floatingIps(): Array<{ address: string; serverId: string | undefined; description: string }>;
  /** Ids and names of the images, flavors and networks. */
  resources(): Record<'images' | 'flavors' | 'networks', Array<{ id: string; name: string }>>;
  close(): Promise<void>;
}

interface Token {
  readonly expiresAt: number;
  revoked: boolean;
}

interface FloatingIpRecord {
  readonly id: string;
  readonly address: string;
  readonly networkId: string;
  portId: string | null;
  readonly description: string;
}

const PROJECT_ID = 'a7f0c1d2e3b4455f8a9b0c1d2e3f4a5b';
const USER_ID = 'b1e2d3c4f5a6478b9c0d1e2f3a4b5c6d';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const nova = (status: number, name: string, message: string) =>
  new HttpError(status, { [name]: { code: status, message } });
const neutron = (status: number, type: string, message: string) =>
  new HttpError(status, { NeutronError: { type, message, detail: '' } });
const glance = (status: number, title: string, message: string) =>
  new HttpError(status, { code: `${status} ${title}`, title, message });
const unauthorized = () =>
  new HttpError(401, {
    error: {
      code: 401,
      title: 'Unauthorized',
      message: 'The request you have made requires authentication.',
    },
  });

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? undefined : JSON.parse(text));
      } catch {
        reject(nova(400, 'badRequest', 'Malformed request body'));
      }
    });
    req.on('error', reject);
  });
}

/** Starts the fake on 127.0.0.1 (port 0). */
export async function startOpenstackCloud(
  options: OpenstackCloudOptions = {},
): Promise<FakeOpenstackCloud> {
  const addresses = options.addresses ?? ['127.0.0.1'];
  const regions = options.regions ?? ['RegionOne'];
  const user: FakeUser = options.users?.[0] ?? {
    name: 'demo',
    password: 'secret',
    domain: 'Default',
    project: 'demo',
  };
  const users = options.users ?? [user];
  const appCreds = options.applicationCredentials ?? [
    { id: 'app-cred-id', secret: 'app-cred-secret' },
  ];
  const images = (options.images ?? ['cirros', 'ubuntu-24.04']).map((name) => ({
    id: randomUUID(),
    name,
  }));
  const flavors = (options.flavors ?? ['m1.tiny', 'm1.small']).map((name, i) => ({
    id: String(i + 1),
    name,
  }));
  const networks = (
    options.networks ?? [{ name: 'private' }, { name: 'public', external: true }]
  ).map((n) => ({ id: randomUUID(), name: n.name, external: n.external === true }));
  const keypairs = new Set(options.keypairs ?? ['cloudboot']);
  const securityGroups = new Set(options.securityGroups ?? ['default']);
  const random = prng(options.seed ?? 1);
  const faults: OpenstackFaults = {};
  const tokens = new Map<string, Token>();
  const servers: FakeServer[] = [];
  const floatingIps: FloatingIpRecord[] = [];
  const counts: Record<string, number> = {};
  let apiCalls = 0;
  /** Every request but the fake's own state's. */
  let requests = 0;
  const withinRate = bucketKeeper();
  /** API calls answered with the throttling error. */
  let throttled = 0;
  let nextAddress = 0;
  let nextFloating = 0;
  let root = '';

  const count = (key: string) => {
    counts[key] = (counts[key] ?? 0) + 1;
  };

  const statusOf = (s: FakeServer, now = Date.now()): string => {
    if (s.deletedAt !== undefined) return 'DELETED';
    if (s.held !== undefined) return s.held;
    if (now < s.activeAt) return 'BUILD';
    return s.fault !== undefined ? 'ERROR' : 'ACTIVE';
  };
  /** Listed: not deleted, or deleted by request and still visible. */
  const listed = (s: FakeServer, now = Date.now()): boolean =>
    s.deletedAt === undefined ||
    (!s.killed && now < s.deletedAt + (options.terminatedVisibleMs ?? 0));

  const networkName = (id: string) => networks.find((n) => n.id === id)?.name ?? id;

  const serverDocument = (s: FakeServer) => {
    const deleting = s.deletedAt !== undefined;
    const status = deleting ? (s.fault !== undefined ? 'ERROR' : 'ACTIVE') : statusOf(s);
    const own = [
      {
        version: 4,
        addr: s.address,
        'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01',
      },
      ...(s.floatingAddress !== undefined
        ? [
            {
              version: 4,
              addr: s.floatingAddress,
              'OS-EXT-IPS:type': 'floating',
              'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01',
            },
          ]
        : []),
    ];
    return {
      id: s.id,
      name: s.name,
      status,
      tenant_id: PROJECT_ID,
      user_id: USER_ID,
      metadata: s.metadata,
      image: { id: s.imageId },
      flavor: { id: s.flavorId },
      created: new Date(s.createdAt).toISOString().replace(/\.\d+Z$/, 'Z'),
      'OS-EXT-STS:task_state': deleting ? 'deleting' : status === 'BUILD' ? 'spawning' : null,
      'OS-EXT-STS:vm_state': status === 'BUILD' ? 'building' : status.toLowerCase(),
      // Nova names the zone asked for at once, else the one the scheduler chose
      // (`nova`, the default zone) once the server is placed; a server no host
      // took has none.
      'OS-EXT-AZ:availability_zone': s.zone ?? (status === 'ACTIVE' ? 'nova' : ''),
      accessIPv4: '',
      addresses: status === 'BUILD' || status === 'ERROR' ? {} : { [networkName(s.network)]: own },
      ...(status === 'ERROR' && {
        fault: { code: 500, message: s.fault, created: new Date(s.activeAt).toISOString() },
      }),
    };
  };

  const catalog = () => {
    const entry = (type: string, name: string, suffix: string) => ({
      type,
      name,
      id: randomUUID(),
      endpoints: regions.flatMap((region) =>
        ['public', 'internal', 'admin'].map((iface) => ({
          id: randomUUID(),
          interface: iface,
          region,
          region_id: region,
          url: `${root}/${region}/${iface}/${suffix}`,
        })),
      ),
    });
    return [
      entry('compute', 'nova', 'compute/v2.1'),
      entry('image', 'glance', 'image'),
      entry('network', 'neutron', 'network'),
      {
        type: 'identity',
        name: 'keystone',
        id: randomUUID(),
        endpoints: regions.map((region) => ({
          id: randomUUID(),
          interface: 'public',
          region,
          region_id: region,
          url: `${root}/identity/v3`,
        })),
      },
    ];
  };

  const issueToken = (body: unknown) => {
    count('keystone POST /auth/tokens');
    if (faults.failAuth) throw unauthorized();
    const auth = (body as { auth?: Record<string, unknown> } | undefined)?.auth;
    const identity = auth?.identity as Record<string, unknown> | undefined;
    const methods = (identity?.methods as string[] | undefined) ?? [];
    let scoped = false;
    if (methods.includes('password')) {
      const u = (identity?.password as { user?: Record<string, unknown> } | undefined)?.user;
      const domain = (u?.domain as { name?: string; id?: string } | undefined) ?? {};
      const found = users.find(
        (x) =>
          (u?.name === x.name || u?.id === USER_ID) &&
          u?.password === x.password &&
          (u?.id !== undefined || domain.name === x.domain || domain.id === 'default'),
      );
      if (found === undefined) throw unauthorized();
      const project = (auth?.scope as { project?: Record<string, unknown> } | undefined)?.project;
      if (project !== undefined) {
        const pdomain = (project.domain as { name?: string; id?: string } | undefined) ?? {};
        const ok =
          project.id === PROJECT_ID ||
          (project.name === found.project &&
            (pdomain.name === found.domain || pdomain.id === 'default'));
        if (!ok) throw unauthorized();
        scoped = true;
      }
    } else if (methods.includes('application_credential')) {
      const c = identity?.application_credential as { id?: string; secret?: string } | undefined;
      if (!appCreds.some((a) => a.id === c?.id && a.secret === c?.secret)) throw unauthorized();
      scoped = true;
    } else {
      throw new HttpError(400, {
        error: { code: 400, title: 'Bad Request', message: 'Expecting to find identity in auth.' },
      });
    }
    const now = Date.now();
    const expiresAt = now + (options.tokenTtlMs ?? 3_600_000);
    const value = `gAAAA${randomUUID().replace(/-/g, '')}`;
    tokens.set(value, { expiresAt, revoked: false });
    return {
      status: 201,
      headers: { 'X-Subject-Token': value },
      body: {
        token: {
          methods,
          user: { id: USER_ID, name: user.name, domain: { id: 'default', name: user.domain } },
          ...(scoped && {
            project: {
              id: PROJECT_ID,
              name: user.project,
              domain: { id: 'default', name: 'Default' },
            },
            catalog: catalog(),
            roles: [{ id: randomUUID(), name: 'member' }],
          }),
          issued_at: `${new Date(now).toISOString().slice(0, -1)}000Z`,
          expires_at: `${new Date(expiresAt).toISOString().slice(0, -1)}000Z`,
        },
      },
    };
  };

  const checkToken = (req: IncomingMessage) => {
    const value = req.headers['x-auth-token'];
    const token = typeof value === 'string' ? tokens.get(value) : undefined;
    const refused =
      faults.rejectTokens || token === undefined || token.revoked || Date.now() >= token.expiresAt;
    if (refused) {
      count('401 Unauthorized');
      throw unauthorized();
    }
  };

  const throttleOrFail = () => {
    apiCalls += 1;
    if (faults.serverErrors !== undefined && faults.serverErrors > 0) {
      faults.serverErrors -= 1;
      throw nova(
        500,
        'computeFault',
        'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/',
      );
    }
    const every = faults.throttleEvery;
    if (
      (every !== undefined && every > 0 && apiCalls % every === 0) ||
      !withinRate(faults.rateLimit)
    ) {
      throttled += 1;
      const status = faults.throttleStatus ?? 429;
      const retryAfter = String(faults.retryAfterSeconds ?? 1);
      throw new HttpError(
        status,
        { overLimit: { code: status, message: 'This request was rate-limited.', retryAfter } },
        { 'Retry-After': retryAfter },
      );
    }
  };

  const createServer = (region: string, body: unknown): FakeServer => {
    const s = (body as { server?: Record<string, unknown> } | undefined)?.server;
    if (s === undefined || typeof s.name !== 'string' || s.name === '') {
      throw nova(
        400,
        'badRequest',
        "Invalid input for field/attribute server. Value: None. 'name' is a required property",
      );
    }
    const image = images.find(
      (i) => i.id === s.imageRef && !faults.missingImages?.includes(i.name),
    );
    if (image === undefined)
      throw nova(400, 'badRequest', `Image ${String(s.imageRef)} could not be found.`);
    const flavor = flavors.find((f) => f.id === s.flavorRef);
    if (flavor === undefined) throw nova(400, 'badRequest', 'Invalid flavorRef provided.');
    const requested = (s.networks as Array<{ uuid?: string }> | undefined)?.[0]?.uuid;
    const network =
      requested === undefined
        ? networks.find((n) => !n.external)
        : networks.find((n) => n.id === requested);
    if (network === undefined) {
      throw nova(400, 'badRequest', `Network ${String(requested)} could not be found.`);
    }
    if (s.key_name !== undefined && !keypairs.has(String(s.key_name))) {
      throw nova(400, 'badRequest', 'Invalid key_name provided.');
    }
    for (const g of (s.security_groups as Array<{ name?: string }> | undefined) ?? []) {
      if (!securityGroups.has(String(g.name))) {
        throw nova(
          400,
          'badRequest',
          `Security group ${String(g.name)} not found for project ${PROJECT_ID}.`,
        );
      }
    }
    const live = servers.filter((x) => x.deletedAt === undefined).length;
    if (faults.instanceQuota !== undefined && live >= faults.instanceQuota) {
      throw nova(
        403,
        'forbidden',
        `Quota exceeded for instances: Requested 1, but already used ${live} of ${faults.instanceQuota} instances`,
      );
    }
    const now = Date.now();
    const noHost =
      faults.noValidHostFlavors?.some((f) => f === flavor.id || f === flavor.name) ||
      faults.noValidHostZones?.includes(String(s.availability_zone));
    const delay = faults.bootDelayMs ?? options.bootDelayMs ?? 50;
    const metadata = (s.metadata as Record<string, string> | undefined) ?? {};
    const server: FakeServer = {
      id: randomUUID(),
      name: s.name,
      region,
      imageId: image.id,
      flavorId: flavor.id,
      network: network.id,
      metadata: { ...metadata },
      token: metadata['cloudboot-token'],
      address: addresses[nextAddress++ % addresses.length] as string,
      portId: randomUUID(),
      floatingAddress: undefined,
      createdAt: now,
      activeAt: now + (noHost ? Math.min(delay, 20) : delay),
      fault: noHost ? 'No valid host was found. There are not enough hosts available.' : undefined,
      zone: typeof s.availability_zone === 'string' ? s.availability_zone : undefined,
      deletedAt: undefined,
      killed: false,
    };
    servers.push(server);
    return server;
  };

  const loseAnswer = (): boolean => {
    if (faults.loseAnswers !== undefined && faults.loseAnswers > 0) {
      faults.loseAnswers -= 1;
      return true;
    }
    const p = faults.loseAnswerProbability ?? 0;
    return p > 0 && random() < p;
  };

  type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'lost';

  const computeApi = (
    region: string,
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Answer => {
    const serverPath = /^\/servers\/([^/]+)$/.exec(path);
    if (method === 'GET' && path === '/servers/detail') {
      count('nova GET /servers/detail');
      const pattern = query.get('name');
      // Lookups of one exact name (`^name$`, a launch adopting its server) are
      // also counted apart, a subset of the above; status rounds filter by prefix.
      if (pattern?.startsWith('^') && pattern.endsWith('$'))
        count('nova GET /servers/detail (one name)');
      const regex = pattern !== null ? new RegExp(pattern) : undefined;
      const now = Date.now();
      const all = servers
        .filter(
          (s) =>
            s.region === region && listed(s, now) && (regex === undefined || regex.test(s.name)),
        )
        .reverse();
      const marker = query.get('marker');
      const start = marker === null ? 0 : all.findIndex((s) => s.id === marker) + 1;
      if (marker !== null && start === 0)
        throw nova(400, 'badRequest', `marker [${marker}] not found`);
      const limit = Math.min(Number(query.get('limit') ?? 1000), options.maxLimit ?? 1000);
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return {
        status: 200,
        body: {
          servers: page.map(serverDocument),
          ...(more && {
            servers_links: [
              {
                rel: 'next',
                href: `${root}/${region}/public/compute/v2.1/servers/detail?limit=${limit}&marker=${page[page.length - 1]?.id}`,
              },
            ],
          }),
        },
      };
    }
    if (method === 'POST' && path === '/servers') {
      count('nova POST /servers');
      const server = createServer(region, body);
      if (loseAnswer()) {
        faults.serverErrors = (faults.serverErrors ?? 0) + (faults.failAfterLostAnswer ?? 0);
        return 'lost';
      }
      return {
        status: 202,
        body: {
          server: {
            id: server.id,
            links: [
              { rel: 'self', href: `${root}/${region}/public/compute/v2.1/servers/${server.id}` },
            ],
            'OS-DCF:diskConfig': 'MANUAL',
            security_groups: [{ name: 'default' }],
            adminPass: 'fake-admin-pass',
          },
        },
      };
    }
    if (serverPath !== null) {
      const id = decodeURIComponent(serverPath[1] as string);
      const server = servers.find((s) => s.id === id && s.region === region && listed(s));
      count(`nova ${method} /servers/{id}`);
      if (method === 'GET') {
        if (server === undefined)
          throw nova(404, 'itemNotFound', `Instance ${id} could not be found.`);
        return { status: 200, body: { server: serverDocument(server) } };
      }
      if (method === 'DELETE') {
        if (server === undefined)
          throw nova(404, 'itemNotFound', `Instance ${id} could not be found.`);
        server.deletedAt ??= Date.now();
        return { status: 204 };
      }
    }
    if (method === 'GET' && path === '/flavors/detail') {
      count('nova GET /flavors/detail');
      return {
        status: 200,
        body: {
          flavors: flavors.map((f, i) => ({
            id: f.id,
            name: f.name,
            ram: 512 * 2 ** i,
            vcpus: 1 + i,
            disk: 1 + i,
          })),
        },
      };
    }
    const keypair = /^\/os-keypairs\/([^/]+)$/.exec(path);
    if (method === 'GET' && keypair !== null) {
      count('nova GET /os-keypairs/{name}');
      const name = decodeURIComponent(keypair[1] as string);
      if (!keypairs.has(name))
        throw nova(404, 'itemNotFound', `Keypair ${name} not found for user ${USER_ID}`);
      return {
        status: 200,
        body: { keypair: { name, public_key: 'ssh-ed25519 AAAA fake', fingerprint: 'aa:bb' } },
      };
    }
    throw nova(404, 'itemNotFound', 'The resource could not be found.');
  };

  const imageApi = (method: string, path: string, query: URLSearchParams): Answer => {
    const doc = (i: { id: string; name: string }) => ({
      id: i.id,
      name: i.name,
      status: 'active',
      visibility: 'public',
      disk_format: 'qcow2',
      container_format: 'bare',
      self: `/v2/images/${i.id}`,
    });
    if (method === 'GET' && path === '/v2/images') {
      count('glance GET /v2/images');
      const name = query.get('name');
      return {
        status: 200,
        body: {
          images: images
            .filter(
              (i) => (name === null || i.name === name) && !faults.missingImages?.includes(i.name),
            )
            .map(doc),
          first: '/v2/images',
          schema: '/v2/schemas/images',
        },
      };
    }
    const byId = /^\/v2\/images\/([^/]+)$/.exec(path);
    if (method === 'GET' && byId !== null) {
      count('glance GET /v2/images/{id}');
      const id = decodeURIComponent(byId[1] as string);
      const image = images.find((i) => i.id === id && !faults.missingImages?.includes(i.name));
      if (image === undefined) throw glance(404, 'Not Found', `No image found with ID ${id}`);
      return { status: 200, body: doc(image) };
    }
    throw glance(404, 'Not Found', 'The resource could not be found.');
  };

  const networkApi = (
    region: string,
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Answer => {
    if (method === 'GET' && path === '/v2.0/networks') {
      count('neutron GET /v2.0/networks');
      const name = query.get('name');
      const id = query.get('id');
      return {
        status: 200,
        body: {
          networks: networks
            .filter((n) => (name === null || n.name === name) && (id === null || n.id === id))
            .map((n) => ({
              id: n.id,
              name: n.name,
              status: 'ACTIVE',
              'router:external': n.external,
              project_id: PROJECT_ID,
            })),
        },
      };
    }
    if (method === 'GET' && path === '/v2.0/ports') {
      count('neutron GET /v2.0/ports');
      const device = query.get('device_id');
      return {
        status: 200,
        body: {
          ports: servers
            .filter(
              (s) =>
                s.region === region &&
                s.deletedAt === undefined &&
                (device === null || s.id === device),
            )
            .map((s) => ({
              id: s.portId,
              device_id: s.id,
              network_id: s.network,
              fixed_ips: [{ ip_address: s.address }],
            })),
        },
      };
    }
    const fipDoc = (f: FloatingIpRecord) => {
      const server = servers.find((s) => s.portId === f.portId);
      return {
        id: f.id,
        floating_ip_address: f.address,
        floating_network_id: f.networkId,
        port_id: f.portId,
        fixed_ip_address: server?.address ?? null,
        description: f.description,
        status: f.portId !== null ? 'ACTIVE' : 'DOWN',
      };
    };
    if (method === 'GET' && path === '/v2.0/floatingips') {
      count('neutron GET /v2.0/floatingips');
      const net = query.get('floating_network_id');
      const port = query.get('port_id');
      return {
        status: 200,
        body: {
          floatingips: floatingIps
            .filter(
              (f) => (net === null || f.networkId === net) && (port === null || f.portId === port),
            )
            .map(fipDoc),
        },
      };
    }
    if (method === 'POST' && path === '/v2.0/floatingips') {
      count('neutron POST /v2.0/floatingips');
      const f = (body as { floatingip?: Record<string, string> } | undefined)?.floatingip ?? {};
      const net = networks.find((n) => n.id === f.floating_network_id);
      if (net === undefined || !net.external) {
        throw neutron(
          404,
          'ExternalNetworkNotFound',
          `External network ${f.floating_network_id} could not be found.`,
        );
      }
      const server = servers.find((s) => s.portId === f.port_id && s.deletedAt === undefined);
      if (f.port_id !== undefined && server === undefined) {
        throw neutron(404, 'PortNotFound', `Port ${f.port_id} could not be found.`);
      }
      const pool = options.floatingAddresses;
      const address =
        pool !== undefined && pool.length > 0
          ? (pool[nextFloating++ % pool.length] as string)
          : (server?.address ?? '127.0.0.1');
      const record: FloatingIpRecord = {
        id: randomUUID(),
        address,
        networkId: net.id,
        portId: server?.portId ?? null,
        description: f.description ?? '',
      };
      floatingIps.push(record);
      if (server !== undefined) server.floatingAddress = address;
      return { status: 201, body: { floatingip: fipDoc(record) } };
    }
    const fip = /^\/v2\.0\/floatingips\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && fip !== null) {
      count('neutron DELETE /v2.0/floatingips/{id}');
      const index = floatingIps.findIndex((f) => f.id === decodeURIComponent(fip[1] as string));
      if (index < 0)
        throw neutron(404, 'FloatingIPNotFound', `Floating IP ${fip[1]} could not be found`);
      const [record] = floatingIps.splice(index, 1);
      const server = servers.find((s) => s.portId === record?.portId);
      if (server !== undefined) server.floatingAddress = undefined;
      return { status: 204 };
    }
    throw neutron(404, 'HTTPNotFound', 'The resource could not be found.');
  };

  const route = async (req: IncomingMessage): Promise<Answer> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const body = method === 'POST' || method === 'PUT' ? await readJson(req) : undefined;
    if (url.pathname !== '/_fake/state') requests += 1;
    if (url.pathname === '/identity/v3/auth/tokens' && method === 'POST') return issueToken(body);
    // The fake's own view, for scripts that check nothing was left behind (as the fake EC2's).
    if (url.pathname === '/_fake/state' && method === 'GET') {
      const instances = servers.map((s) => ({ id: s.id, token: s.token, state: statusOf(s) }));
      // Answered calls by service, method and path (the per-interface tallies left
      // out); throttled calls are counted in `faults` only, as they never reach a method.
      const calls = Object.fromEntries(
        Object.entries(counts).filter(([key]) => !key.endsWith(' endpoint')),
      );
      return { status: 200, body: { instances, calls, faults: { throttled } } };
    }
    const match = /^\/([^/]+)\/(public|internal|admin)\/(compute\/v2\.1|image|network)(\/.*)$/.exec(
      url.pathname,
    );
    if (match === null || !regions.includes(match[1] as string)) {
      throw new HttpError(404, {
        error: { code: 404, title: 'Not Found', message: `no endpoint at ${url.pathname}` },
      });
    }
    const [, region, iface, service, path] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    count(`${iface} endpoint`);
    checkToken(req);
    throttleOrFail();
    if (service === 'compute/v2.1') return computeApi(region, method, path, url.searchParams, body);
    if (service === 'image') return imageApi(method, path, url.searchParams);
    return networkApi(region, method, path, url.searchParams, body);
  };

  const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    route(req).then(
      (answer) => {
        if (answer === 'lost') {
          res.socket?.destroy();
          return;
        }
        const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, {
          ...(text !== '' && { 'Content-Type': 'application/json' }),
          ...answer.headers,
        });
        res.end(text);
      },
      (error: unknown) => {
        const e = error instanceof HttpError ? error : nova(500, 'computeFault', String(error));
        res.writeHead(e.status, { 'Content-Type': 'application/json', ...e.headers });
        res.end(JSON.stringify(e.body));
      },
    );
  });
  // Like a load balancer in front of a cloud, idle connections stay open a
  // while; Node's default (5 s) races with clients reusing them on a busy machine.
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  root = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  return {
    url: `${root}/identity/v3`,
    root,
    user,
    applicationCredential: appCreds[0] ?? { id: '', secret: '' },
    faults,
    instances: () =>
      servers.map((s) => ({
        id: s.id,
        name: s.name,
        region: s.region,
        token: s.token,
        state: statusOf(s),
        metadata: s.metadata,
        address: s.address,
        floatingAddress: s.floatingAddress,
        imageId: s.imageId,
        flavorId: s.flavorId,
        networkId: s.network,
      })),
    callCounts: () => ({ ...counts }),
    requests: () => requests,
    kill: (id) => {
      const s = servers.find((x) => x.id === id);
      if (s === undefined) throw new Error(`the fake has no server ${id}`);
      s.deletedAt ??= Date.now();
      s.killed = true;
    },
    setStatus: (id, status) => {
      const s = servers.find((x) => x.id === id);
      if (s === undefined) throw new Error(`the fake has no server ${id}`);
      s.held = status;
    },
    revokeTokens: () => {
      for (const t of tokens.values()) t.revoked = true;
    },
    floatingIps: () =>
      floatingIps.map((f) => ({
        address: f.address,
        serverId: servers.find((s) => s.portId === f.portId)?.id,
        description: f.description,
      })),
    resources: () => ({
      images: images.map(({ id, name }) => ({ id, name })),
      flavors: flavors.map(({ id, name }) => ({ id, name })),
      networks: networks.map(({ id, name }) => ({ id, name })),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/**
 * Plan lines (for `[defaults]`) that point services at the fake with its
 * default user, image and flavor.
 */
export function fakePlanDefaults(cloud: FakeOpenstackCloud): string {
  return [
    'driver: openstack',
    `iaas_url: ${cloud.url}`,
    'iaas: RegionOne',
    `iaas_key: ${cloud.user.name}`,
    `iaas_secret: ${cloud.user.password}`,
    `os_project_name: ${cloud.user.project}`,
    'image: cirros',
    'allocation: m1.tiny',
    '',
  ].join('\n');
}
