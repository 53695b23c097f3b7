/**
 * A fake Compute Engine speaking the Compute v1 REST API that
 * `@google-cloud/compute` calls with its REST (fallback) transport:
 * instances (insert/get/list/delete), zone operations (get/wait), images
 * (get/getFromFamily), machine types, networks, subnetworks and zones, with
 * JSON errors in Google's format. Instances are "machines" at loopback
 * addresses where test sshd processes listen, so plans boot end to end.
 *
 * Behaviour kept from the real API: `requestId` makes a repeated insert
 * return the first operation without a second instance; an insert answers
 * with a zone operation that ends DONE, with an `error` for stockouts and
 * quota; list takes `filter`, `maxResults` and `pageToken`; a deleted
 * instance is STOPPING for a while and then unknown (404).
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { prng } from '../support/prng.js';
import { parseFilter } from './gce-filter.js';
import { bucketKeeper, type RateLimit } from './token-bucket.js';

/** An instance as the fake keeps it (every instance ever created stays here). */
export interface FakeGceInstance {
  /** Numeric id, as a decimal string. */
  readonly id: string;
  readonly name: string;
  readonly project: string;
  readonly zone: string;
  /** GCE status (`PROVISIONING` … `RUNNING`, `STOPPING`); `DELETED` once deleted (a fake-only marker: the API then answers 404). */
  state: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The `cloudboot-token` label, or '' when there is none. */
  readonly token: string;
  /** Metadata items by key (e.g. `ssh-keys`). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly machineType: string;
  readonly sourceImage: string;
  /** The `requestId` of the insert that created it. */
  readonly requestId: string | undefined;
  /** The instance body the client sent. */
  readonly resource: Readonly<Record<string, unknown>>;
  readonly natIP: string | undefined;
  readonly networkIP: string;
  readonly createdAt: number;
  deletedAt: number | undefined;
}

/** Failure injection; change it at any time. */
export interface FakeGceFaults {
  /** Every Nth call (counting all calls) answers a rate-limit error. 0: never. */
  throttleEvery: number;
  /** The project's call rate limit: a call finding the bucket empty answers a rate-limit error. */
  rateLimit?: RateLimit;
  /** HTTP status of the rate-limit answer: 403 `rateLimitExceeded` (default) or 429. */
  throttleStatus: 403 | 429;
  /** Inserts of these machine types, or in these zones, end with ZONE_RESOURCE_POOL_EXHAUSTED. */
  capacity: { machineTypes: string[]; zones: string[] };
  /** Inserts end with QUOTA_EXCEEDED (CPUS) while set. */
  quotaExceeded: boolean;
  /** How many of the next insert answers are lost (the instance IS created, the socket is destroyed). */
  loseAnswers: number;
  /** Probability (0..1) that an insert answer is lost, drawn from the fake's seeded PRNG. */
  loseAnswerProbability: number;
  /** Extra milliseconds before new instances run (slow boots). */
  slowBootMs: number;
  /** Every call answers 401 while set. */
  unauthorized: boolean;
}

/** Options of {@link startGceCloud}. */
export interface FakeGceOptions {
  /** Loopback addresses handed to instances round-robin (public and private). */
  readonly addresses?: readonly string[];
  /** PROVISIONING -> RUNNING after this long (STAGING in the second half). Default 50. */
  readonly bootDelayMs?: number;
  /** A deleted instance stays listed (STOPPING) this long. Default 100. */
  readonly terminatedVisibleMs?: number;
  /** An insert operation is DONE after this long. Default 20. */
  readonly operationMs?: number;
  /** Known images: `projects/P/global/images/NAME` with an optional family. */
  readonly images?: readonly { readonly path: string; readonly family?: string }[];
  /** Known machine types (in every zone). */
  readonly machineTypes?: readonly string[];
  /** Known networks (`projects/P/global/networks/N`: every project has these names). */
  readonly networks?: readonly string[];
  /** Known subnetworks by name (in every region). */
  readonly subnetworks?: readonly string[];
  /** Known zones. */
  readonly zones?: readonly string[];
  /** Accepts or refuses a bearer token (default: any non-empty token). */
  readonly acceptToken?: (token: string) => boolean;
  /** Keys from the `ssh-keys` metadata item of new instances are appended here (as sshd's authorized_keys). */
  readonly authorizedKeysFile?: string;
  /** Seed of the PRNG behind {@link FakeGceFaults.loseAnswerProbability}. */
  readonly seed?: number;
  /** Most items in one list page, whatever `maxResults` asks (GCE's own cap is 500). */
  readonly maxPageSize?: number;
}

/** A running fake. */
export interface FakeGceCloud {
  /** Root URL for the driver's `iaas_url`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly faults: FakeGceFaults;
  /** Every instance ever created, deleted ones included. */
  instances(): FakeGceInstance[];
  /** Calls by method, e.g. `instances.insert`, `zoneOperations.wait`. */
  callCounts(): Record<string, number>;
  /** API requests received so far: every one, authentication's and throttled ones included. */
  requests(): number;
  /** Clears the call counts. */
  resetCounts(): void;
  /** The cloud deletes an instance (by name or numeric id) outside cloudboot. */
  kill(nameOrId: string): void;
  /** The cloud moves a live instance (by name or numeric id) into `status`, e.g. `SUSPENDED`. */
  setStatus(nameOrId: string, status: string): void;
  /**
   * Forgets the `requestId`s of earlier inserts, as Compute Engine does after
   * a while (it keeps them for at least 60 minutes): a repeated insert is
   * then judged by its instance name alone.
   */
  forgetRequestIds(): void;
  /** Removes an image (later inserts naming it fail as on GCE). */
  removeImage(path: string): void;
  close(): Promise<void>;
}

const DEFAULT_IMAGES = [
  { path: 'projects/debian-cloud/global/images/debian-12-bookworm-v20250101', family: 'debian-12' },
];
const DEFAULT_MACHINE_TYPES = ['e2-micro', 'e2-small', 'e2-medium', 'n1-standard-1'];
const DEFAULT_ZONES = ['us-central1-a', 'us-central1-b', 'europe-west1-b'];

interface Operation {
  readonly body: Record<string, unknown>;
  readonly doneAt: number;
  readonly finish: () => void;
  finished: boolean;
}

/** An error answer in Google's JSON format. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly statusName: string,
  ) {
    super(message);
  }
}

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
};

function apiError(status: number, reason: string, message: string): ApiError {
  return new ApiError(status, reason, message, STATUS_NAMES[status] ?? 'UNKNOWN');
}

function notFound(resource: string): ApiError {
  return apiError(404, 'notFound', `The resource '${resource}' was not found`);
}

/** The last path segment of a resource reference (URL, partial path or bare name). */
function lastSegment(ref: string): string {
  return ref.split('/').pop() ?? ref;
}

/** The API method a request calls, named as the client library names it. */
const METHODS: readonly (readonly [string, RegExp, string])[] = [
  ['GET', /\/zones\/[^/]+$/, 'zones.get'],
  ['POST', /\/zones\/[^/]+\/instances$/, 'instances.insert'],
  ['GET', /\/zones\/[^/]+\/instances$/, 'instances.list'],
  ['GET', /\/instances\/[^/]+$/, 'instances.get'],
  ['DELETE', /\/instances\/[^/]+$/, 'instances.delete'],
  ['POST', /\/operations\/[^/]+\/wait$/, 'zoneOperations.wait'],
  ['GET', /\/operations\/[^/]+$/, 'zoneOperations.get'],
  ['GET', /\/machineTypes\/[^/]+$/, 'machineTypes.get'],
  ['GET', /\/images\/family\/[^/]+$/, 'images.getFromFamily'],
  ['GET', /\/global\/images\/[^/]+$/, 'images.get'],
  ['GET', /\/global\/networks\/[^/]+$/, 'networks.get'],
  ['GET', /\/subnetworks\/[^/]+$/, 'subnetworks.get'],
];

function methodOf(verb: string, path: string): string {
  return METHODS.find(([v, re]) => v === verb && re.test(path))?.[2] ?? `${verb} ${path}`;
}

/** Starts the fake on 127.0.0.1 (a free port). */
export async function startGceCloud(options: FakeGceOptions = {}): Promise<FakeGceCloud> {
  const addresses = options.addresses ?? ['127.0.0.1'];
  const bootDelayMs = options.bootDelayMs ?? 50;
  const terminatedVisibleMs = options.terminatedVisibleMs ?? 100;
  const operationMs = options.operationMs ?? 20;
  const images = new Map<string, string | undefined>(
    (options.images ?? DEFAULT_IMAGES).map((i) => [i.path, i.family]),
  );
  const machineTypes = new Set(options.machineTypes ?? DEFAULT_MACHINE_TYPES);
  const networks = new Set(options.networks ?? ['default']);
  const subnetworks = new Set(options.subnetworks ?? ['default']);
  const zones = new Set(options.zones ?? DEFAULT_ZONES);
  const acceptToken = options.acceptToken ?? ((t: string) => t !== '');
  const random = prng(options.seed ?? 1);

  const faults: FakeGceFaults = {
    throttleEvery: 0,
    throttleStatus: 403,
    capacity: { machineTypes: [], zones: [] },
    quotaExceeded: false,
    loseAnswers: 0,
    loseAnswerProbability: 0,
    slowBootMs: 0,
    unauthorized: false,
  };
  const all: FakeGceInstance[] = [];
  /** Live (not yet purged) instances by `project/zone/name`. */
  const live = new Map<string, FakeGceInstance>();
  const operations = new Map<string, Operation>();
  const byRequestId = new Map<string, string>();
  const counts: Record<string, number> = {};
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let calls = 0;
  const withinRate = bucketKeeper();
  let nextId = 4_000_000_000_000_000n;
  let nextAddress = 0;
  let root = '';

  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };

  const count = (method: string) => {
    counts[method] = (counts[method] ?? 0) + 1;
  };

  const selfLink = (path: string) => `${root}/compute/v1/${path}`;

  function deleteInstance(instance: FakeGceInstance): void {
    if (instance.deletedAt !== undefined) return;
    instance.state = 'STOPPING';
    instance.deletedAt = Date.now();
    later(terminatedVisibleMs, () => {
      instance.state = 'DELETED';
      live.delete(`${instance.project}/${instance.zone}/${instance.name}`);
    });
  }

  function newOperation(
    project: string,
    zone: string,
    type: string,
    target: string,
    finish: () => { error?: { code: string; message: string }; httpStatus?: number } | undefined,
  ): Operation {
    const name = `operation-${Date.now()}-${randomUUID().slice(0, 8)}`;
    const body: Record<string, unknown> = {
      kind: 'compute#operation',
      id: String(nextId++),
      name,
      zone: selfLink(`projects/${project}/zones/${zone}`),
      operationType: type,
      targetLink: selfLink(target),
      status: 'RUNNING',
      progress: 0,
      insertTime: new Date().toISOString(),
      startTime: new Date().toISOString(),
      selfLink: selfLink(`projects/${project}/zones/${zone}/operations/${name}`),
    };
    const op: Operation = {
      body,
      doneAt: Date.now() + operationMs,
      finished: false,
      finish: () => {
        if (op.finished) return;
        op.finished = true;
        const outcome = finish();
        body.status = 'DONE';
        body.progress = 100;
        body.endTime = new Date().toISOString();
        if (outcome?.error !== undefined) {
          body.error = { errors: [outcome.error] };
          body.httpErrorStatusCode = outcome.httpStatus ?? 400;
          body.httpErrorMessage = outcome.error.message;
        }
      },
    };
    operations.set(name, op);
    later(operationMs, op.finish);
    return op;
  }

  function instanceBody(i: FakeGceInstance): Record<string, unknown> {
    const path = `projects/${i.project}/zones/${i.zone}/instances/${i.name}`;
    const resource = i.resource as { networkInterfaces?: Record<string, unknown>[] };
    const nic = resource.networkInterfaces?.[0] ?? {};
    return {
      ...i.resource,
      kind: 'compute#instance',
      id: i.id,
      name: i.name,
      status: i.state,
      zone: selfLink(`projects/${i.project}/zones/${i.zone}`),
      machineType: selfLink(`projects/${i.project}/zones/${i.zone}/machineTypes/${i.machineType}`),
      labels: i.labels,
      networkInterfaces: [
        {
          ...nic,
          name: 'nic0',
          network: selfLink(
            `projects/${i.project}/global/networks/${lastSegment(String(nic.network ?? 'default'))}`,
          ),
          networkIP: i.networkIP,
          accessConfigs:
            i.natIP === undefined
              ? []
              : [
                  {
                    kind: 'compute#accessConfig',
                    type: 'ONE_TO_ONE_NAT',
                    name: 'External NAT',
                    natIP: i.natIP,
                  },
                ],
        },
      ],
      creationTimestamp: new Date(i.createdAt).toISOString(),
      selfLink: selfLink(path),
    };
  }

  function findLive(project: string, zone: string, name: string): FakeGceInstance {
    const instance = live.get(`${project}/${zone}/${name}`);
    if (instance === undefined || instance.state === 'DELETED') {
      throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    }
    return instance;
  }

  function insert(
    project: string,
    zone: string,
    requestId: string | undefined,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    if (requestId !== undefined) {
      const previous = byRequestId.get(`${project}/${zone}/${requestId}`);
      if (previous !== undefined) return operations.get(previous)?.body ?? {};
    }
    const name = String(body.name ?? '');
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
      throw apiError(
        400,
        'invalid',
        `Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
      );
    }
    if (live.has(`${project}/${zone}/${name}`)) {
      throw apiError(
        409,
        'alreadyExists',
        `The resource 'projects/${project}/zones/${zone}/instances/${name}' already exists`,
      );
    }
    const machineType = lastSegment(String(body.machineType ?? ''));
    if (!machineTypes.has(machineType)) {
      throw apiError(
        400,
        'invalid',
        `Invalid value for field 'resource.machineType': '${String(body.machineType)}'. Machine type with name '${machineType}' does not exist in zone '${zone}'.`,
      );
    }
    const disks = (body.disks ?? []) as { initializeParams?: { sourceImage?: string } }[];
    const sourceImage = (disks[0]?.initializeParams?.sourceImage ?? '').replace(
      /^.*\/compute\/v1\//,
      '',
    );
    if (resolveImage(sourceImage) === undefined) throw notFound(sourceImage);
    const nics = (body.networkInterfaces ?? []) as {
      network?: string;
      subnetwork?: string;
      accessConfigs?: unknown[];
    }[];
    for (const [i, nic] of nics.entries()) {
      if (nic.network !== undefined && !networks.has(lastSegment(nic.network))) {
        throw apiError(
          400,
          'invalid',
          `Invalid value for field 'resource.networkInterfaces[${i}].network': '${nic.network}'. The referenced network resource cannot be found.`,
        );
      }
      if (nic.subnetwork !== undefined && !subnetworks.has(lastSegment(nic.subnetwork))) {
        throw apiError(
          400,
          'invalid',
          `Invalid value for field 'resource.networkInterfaces[${i}].subnetwork': '${nic.subnetwork}'. The referenced subnetwork resource cannot be found.`,
        );
      }
    }
    const labels = (body.labels ?? {}) as Record<string, string>;
    const items = ((body.metadata as { items?: { key: string; value: string }[] })?.items ??
      []) as { key: string; value: string }[];
    const metadata = Object.fromEntries(items.map((m) => [m.key, m.value]));
    const address = addresses[nextAddress++ % addresses.length] ?? '127.0.0.1';
    const wantsNat = (nics[0]?.accessConfigs?.length ?? 0) > 0;
    const instance: FakeGceInstance = {
      id: String(nextId++),
      name,
      project,
      zone,
      state: 'PROVISIONING',
      labels,
      token: labels['cloudboot-token'] ?? '',
      metadata,
      machineType,
      sourceImage,
      requestId,
      resource: body,
      natIP: wantsNat ? address : undefined,
      networkIP: address,
      createdAt: Date.now(),
      deletedAt: undefined,
    };
    all.push(instance);
    live.set(`${project}/${zone}/${name}`, instance);
    if (options.authorizedKeysFile !== undefined && metadata['ssh-keys'] !== undefined) {
      const keys = metadata['ssh-keys']
        .split('\n')
        .map((line) => line.replace(/^[^:\s]+:/, '').trim())
        .filter((line) => line !== '');
      appendFileSync(options.authorizedKeysFile, `${keys.join('\n')}\n`);
    }
    const stockout =
      faults.capacity.machineTypes.includes(machineType) || faults.capacity.zones.includes(zone);
    const quota = faults.quotaExceeded;
    const boot = bootDelayMs + faults.slowBootMs;
    const op = newOperation(
      project,
      zone,
      'insert',
      `projects/${project}/zones/${zone}/instances/${name}`,
      () => {
        if (stockout || quota) {
          // A failed insert leaves no instance behind.
          instance.state = 'DELETED';
          instance.deletedAt = Date.now();
          live.delete(`${project}/${zone}/${name}`);
          return stockout
            ? {
                error: {
                  code: 'ZONE_RESOURCE_POOL_EXHAUSTED',
                  message: `The zone 'projects/${project}/zones/${zone}' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.`,
                },
                httpStatus: 503,
              }
            : {
                error: {
                  code: 'QUOTA_EXCEEDED',
                  message: `Quota 'CPUS' exceeded.  Limit: 8.0 in region ${zone.replace(/-[a-z]$/, '')}.`,
                },
                httpStatus: 403,
              };
        }
        later(boot / 2, () => {
          if (instance.state === 'PROVISIONING') instance.state = 'STAGING';
        });
        later(boot, () => {
          if (instance.state === 'STAGING' || instance.state === 'PROVISIONING')
            instance.state = 'RUNNING';
        });
        return undefined;
      },
    );
    if (requestId !== undefined) {
      byRequestId.set(`${project}/${zone}/${requestId}`, String(op.body.name));
    }
    return op.body;
  }

  function resolveImage(path: string): string | undefined {
    const family = /^projects\/([^/]+)\/global\/images\/family\/([^/]+)$/.exec(path);
    if (family !== null) {
      for (const [image, f] of images) {
        if (f === family[2] && image.startsWith(`projects/${family[1]}/`)) return image;
      }
      return undefined;
    }
    return images.has(path) ? path : undefined;
  }

  function imageBody(path: string): Record<string, unknown> {
    return {
      kind: 'compute#image',
      id: createHash('sha256').update(path).digest().readBigUInt64BE().toString(),
      name: lastSegment(path),
      family: images.get(path),
      status: 'READY',
      selfLink: selfLink(path),
    };
  }

  function listInstances(
    project: string,
    zone: string,
    query: URLSearchParams,
  ): Record<string, unknown> {
    let match: ReturnType<typeof parseFilter>;
    try {
      match = parseFilter(query.get('filter') ?? undefined);
    } catch (error) {
      throw apiError(400, 'invalid', (error as Error).message);
    }
    const selected = [...live.values()].filter(
      (i) =>
        i.project === project &&
        i.zone === zone &&
        i.state !== 'DELETED' &&
        match((field) => {
          if (field === 'name') return i.name;
          if (field === 'status') return i.state;
          if (field === 'id') return i.id;
          if (field.startsWith('labels.')) return i.labels[field.slice('labels.'.length)];
          return undefined;
        }),
    );
    const max = Math.min(Number(query.get('maxResults') ?? 500) || 500, options.maxPageSize ?? 500);
    const start = Number(query.get('pageToken') ?? 0) || 0;
    const page = selected.slice(start, start + max);
    return {
      kind: 'compute#instanceList',
      id: `projects/${project}/zones/${zone}/instances`,
      items: page.map(instanceBody),
      ...(start + max < selected.length && { nextPageToken: String(start + max) }),
      selfLink: selfLink(`projects/${project}/zones/${zone}/instances`),
    };
  }

  /** Answers one call; returns the JSON body or throws an ApiError. */
  async function route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): Promise<{ result: Record<string, unknown>; mutation?: boolean }> {
    const seg = path.replace(/^\/compute\/v1\//, '').split('/');
    const [p0, project = '', scope, where = '', kind, name, sub] = seg;
    if (p0 !== 'projects' || !path.startsWith('/compute/v1/')) {
      throw apiError(404, 'notFound', `The requested URL ${path} was not found on this server.`);
    }
    if (scope === 'zones' && kind === undefined && method === 'GET') {
      if (!zones.has(where)) throw notFound(`projects/${project}/zones/${where}`);
      return {
        result: {
          kind: 'compute#zone',
          name: where,
          status: 'UP',
          region: selfLink(`projects/${project}/regions/${where.replace(/-[a-z]$/, '')}`),
          selfLink: selfLink(`projects/${project}/zones/${where}`),
        },
      };
    }
    if (scope === 'zones' && !zones.has(where)) {
      throw notFound(`projects/${project}/zones/${where}`);
    }
    if (scope === 'zones' && kind === 'instances') {
      if (name === undefined && method === 'POST') {
        return {
          result: insert(project, where, query.get('requestId') ?? undefined, body),
          mutation: true,
        };
      }
      if (name === undefined && method === 'GET') {
        return { result: listInstances(project, where, query) };
      }
      if (name !== undefined && sub === undefined && method === 'GET') {
        return { result: instanceBody(findLive(project, where, name)) };
      }
      if (name !== undefined && sub === undefined && method === 'DELETE') {
        const instance = findLive(project, where, name);
        const op = newOperation(project, where, 'delete', path.slice(12), () => {
          deleteInstance(instance);
          return undefined;
        });
        op.finish();
        return { result: op.body };
      }
    }
    if (scope === 'zones' && kind === 'operations' && name !== undefined) {
      const op = operations.get(name);
      if (op === undefined) throw notFound(`projects/${project}/zones/${where}/operations/${name}`);
      if (sub === 'wait' && method === 'POST') {
        // Like GCE: returns when DONE, or after a while with the operation still running.
        const until = Math.min(op.doneAt, Date.now() + 2_000);
        if (!op.finished && until > Date.now()) {
          await new Promise<void>((r) => later(until - Date.now(), r));
        }
        if (!op.finished && Date.now() >= op.doneAt) op.finish();
        return { result: op.body };
      }
      if (sub === undefined && method === 'GET') {
        return { result: op.body };
      }
    }
    if (scope === 'zones' && kind === 'machineTypes' && name !== undefined && method === 'GET') {
      if (!machineTypes.has(name))
        throw notFound(`projects/${project}/zones/${where}/machineTypes/${name}`);
      return {
        result: {
          kind: 'compute#machineType',
          name,
          zone: where,
          guestCpus: 2,
          memoryMb: 4096,
          selfLink: selfLink(`projects/${project}/zones/${where}/machineTypes/${name}`),
        },
      };
    }
    if (scope === 'global' && where === 'images' && method === 'GET' && kind !== undefined) {
      if (kind === 'family' && name !== undefined) {
        const image = resolveImage(`projects/${project}/global/images/family/${name}`);
        if (image === undefined) throw notFound(`projects/${project}/global/images/family/${name}`);
        return { result: imageBody(image) };
      }
      const image = `projects/${project}/global/images/${kind}`;
      if (!images.has(image)) throw notFound(image);
      return { result: imageBody(image) };
    }
    if (scope === 'global' && where === 'networks' && kind !== undefined && method === 'GET') {
      if (!networks.has(kind)) throw notFound(`projects/${project}/global/networks/${kind}`);
      return {
        result: {
          kind: 'compute#network',
          name: kind,
          selfLink: selfLink(`projects/${project}/global/networks/${kind}`),
        },
      };
    }
    if (scope === 'regions' && kind === 'subnetworks' && name !== undefined && method === 'GET') {
      if (!subnetworks.has(name))
        throw notFound(`projects/${project}/regions/${where}/subnetworks/${name}`);
      return {
        result: {
          kind: 'compute#subnetwork',
          name,
          region: where,
          selfLink: selfLink(`projects/${project}/regions/${where}/subnetworks/${name}`),
        },
      };
    }
    throw apiError(404, 'notFound', `The requested URL ${path} was not found on this server.`);
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  }

  function sendError(res: ServerResponse, error: ApiError): void {
    send(res, error.status, {
      error: {
        code: error.status,
        message: error.message,
        errors: [
          {
            message: error.message,
            domain: error.reason === 'rateLimitExceeded' ? 'usageLimits' : 'global',
            reason: error.reason,
          },
        ],
        status: error.statusName,
      },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const url = new URL(req.url ?? '/', root);
    // The fake's own view, for scripts that check nothing was left behind (as the fake EC2's).
    if (req.method === 'GET' && url.pathname === '/_fake/state') {
      const { throttled = 0, unauthorized = 0, errors = 0, lostAnswers = 0, ...byMethod } = counts;
      send(res, 200, {
        instances: [...all].map((i) => ({ id: i.id, token: i.token, state: i.state })),
        // Requests by method (throttled ones included); how often each fault struck
        // (`errors`: other error answers, e.g. 404 to a lookup before an insert).
        calls: byMethod,
        faults: { throttled, unauthorized, lost: lostAnswers, errors },
      });
      return;
    }
    calls += 1;
    count(methodOf(req.method ?? 'GET', url.pathname));
    const auth = req.headers.authorization ?? '';
    if (faults.unauthorized || !auth.startsWith('Bearer ') || !acceptToken(auth.slice(7))) {
      count('unauthorized');
      sendError(
        res,
        apiError(
          401,
          'authError',
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        ),
      );
      return;
    }
    if (
      (faults.throttleEvery > 0 && calls % faults.throttleEvery === 0) ||
      !withinRate(faults.rateLimit)
    ) {
      count('throttled');
      sendError(
        res,
        faults.throttleStatus === 429
          ? apiError(
              429,
              'rateLimitExceeded',
              "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com'.",
            )
          : apiError(403, 'rateLimitExceeded', 'Rate Limit Exceeded'),
      );
      return;
    }
    let body: Record<string, unknown> = {};
    if (text !== '') {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        sendError(
          res,
          apiError(400, 'parseError', 'This API does not support parsing form-encoded input.'),
        );
        return;
      }
    }
    try {
      const answer = await route(req.method ?? 'GET', url.pathname, url.searchParams, body);
      if (
        answer.mutation === true &&
        (faults.loseAnswers > 0 ||
          (faults.loseAnswerProbability > 0 && random() < faults.loseAnswerProbability))
      ) {
        if (faults.loseAnswers > 0) faults.loseAnswers -= 1;
        count('lostAnswers');
        req.socket.destroy();
        return;
      }
      send(res, 200, answer.result);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      count('errors');
      sendError(res, error);
    }
  }

  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      handle(req, res, text).catch((error: unknown) => {
        send(res, 500, {
          error: { code: 500, message: String(error), errors: [{ reason: 'backendError' }] },
        });
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const lookupLive = (nameOrId: string) =>
    [...live.values()].find((i) => i.name === nameOrId || i.id === nameOrId);

  return {
    url: root,
    faults,
    instances: () => [...all],
    callCounts: () => ({ ...counts }),
    requests: () => calls,
    resetCounts: () => {
      for (const k of Object.keys(counts)) delete counts[k];
    },
    kill: (nameOrId) => {
      const instance = lookupLive(nameOrId);
      if (instance === undefined) throw new Error(`the fake GCE has no live instance ${nameOrId}`);
      deleteInstance(instance);
    },
    setStatus: (nameOrId, status) => {
      const instance = lookupLive(nameOrId);
      if (instance === undefined) throw new Error(`the fake GCE has no live instance ${nameOrId}`);
      instance.state = status;
    },
    forgetRequestIds: () => byRequestId.clear(),
    removeImage: (path) => {
      images.delete(path);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
