/**
 * A fake Amazon EC2 for tests: a Node HTTP server on 127.0.0.1 that speaks
 * the EC2 Query API the way the AWS SDK sends it (form-encoded `POST /` with
 * `Action` and `Version`, SigV4-signed) and answers in EC2's XML, errors
 * included (`<Response><Errors><Error><Code>…`). Element names follow the
 * EC2 API reference (`DescribeInstancesResponse/reservationSet/item/
 * instancesSet/item/…`), which is what the SDK's deserializer reads.
 *
 * Its instances are loopback addresses where test sshd machines listen, so
 * plans boot end to end over real SSH. They go `pending` -> `running` after
 * a boot delay, and stay listed as `terminated` for a while after they die.
 * Faults are switched on through the mutable `faults` object.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bucketKeeper, type RateLimit } from './token-bucket.js';

/** The access key id the fake accepts unless told otherwise. */
export const FAKE_ACCESS_KEY_ID = 'AKIAFAKEEC2CLOUDBOOT';
/** Any secret works: the fake checks the signature's key id, not the signature. */
export const FAKE_SECRET_ACCESS_KEY = 'fake-secret-not-checked';

const NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const API_VERSION = '2016-11-15';

/** EC2's instance states and their numeric codes. */
const STATE_CODES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const;

/** An EC2 instance state name. */
export type Ec2StateName = keyof typeof STATE_CODES;

/** Faults the fake injects; change them at any time. */
export interface Ec2Faults {
  /** Every Nth call (of any action) answers `RequestLimitExceeded` (HTTP 503). */
  throttleEvery?: number;
  /** The account's call rate limit: a call finding the bucket empty answers `RequestLimitExceeded`. */
  rateLimit?: RateLimit;
  /** `RunInstances` for these instance types or availability zones answers `InsufficientInstanceCapacity`. */
  capacity?: { instanceTypes?: readonly string[]; zones?: readonly string[] };
  /** This many `RunInstances` calls create their instance, then drop the connection unanswered. */
  loseAnswers?: number;
  /** Probability (0..1) that a `RunInstances` call loses its answer the same way (drawn from the fake's `random`). */
  loseAnswerRate?: number;
  /** Extra boot time of instances launched while set (a slow boot). */
  slowBootMs?: number;
  /** Things that do not exist: `RunInstances` naming them answers EC2's not-found code. */
  missing?: {
    images?: readonly string[];
    keyPairs?: readonly string[];
    securityGroups?: readonly string[];
    subnets?: readonly string[];
  };
  /** Errors to answer to the next calls (of `action`, if given), in order; each is used once. */
  failNext?: Array<{ code: string; status?: number; action?: string; message?: string }>;
  /** Page size of every `DescribeInstances` answer, even for instance ids (EC2 pages only filtered queries). */
  pageSize?: number;
}

/** Options of {@link startEc2Cloud}. */
export interface Ec2CloudOptions {
  /** Loopback addresses of test machines, given out round-robin as public and private address. */
  readonly addresses?: readonly string[];
  /** Time from launch to `running`; default 200 ms. */
  readonly bootDelayMs?: number;
  /** Time `shutting-down` lasts; default 50 ms. */
  readonly shuttingDownMs?: number;
  /** How long terminated instances stay listed; default 60 s. */
  readonly terminatedVisibleMs?: number;
  /** Access key ids accepted; default {@link FAKE_ACCESS_KEY_ID}. */
  readonly accessKeyIds?: readonly string[];
  /** Region the fake pretends to be; default `us-east-1`. */
  readonly region?: string;
  /** TCP port; default 0 (any free one). */
  readonly port?: number;
  /** Random numbers for `loseAnswerRate` (pass a seeded one for repeatable trials). */
  readonly random?: () => number;
  /** Initial faults. */
  readonly faults?: Ec2Faults;
}

/** One instance, as the fake holds it. */
export interface FakeEc2Instance {
  readonly id: string;
  readonly reservationId: string;
  /** The `ClientToken` it was launched with. */
  readonly token: string | undefined;
  readonly imageId: string;
  readonly instanceType: string;
  readonly keyName: string | undefined;
  readonly zone: string;
  readonly subnetId: string | undefined;
  readonly securityGroupIds: readonly string[];
  readonly securityGroupNames: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly volumeTags: Readonly<Record<string, string>>;
  readonly publicIp: string;
  readonly privateIp: string;
  /** Every parameter of the `RunInstances` call that made it, as sent. */
  readonly request: Readonly<Record<string, string>>;
  /** State now (instances no longer listed stay `terminated` here). */
  readonly state: Ec2StateName;
  /** True once EC2 no longer lists it (terminated long enough ago). */
  readonly purged: boolean;
}

/**
 * `GET` this path of the fake for {@link FakeEc2State} as JSON: how a fake
 * running in another process (see `serve-ec2.ts`) is inspected. It is not
 * part of EC2's API.
 */
export const STATE_PATH = '/_fake/state';

/** What `GET /_fake/state` answers. */
export interface FakeEc2State {
  readonly calls: Record<string, number>;
  readonly faults: Record<string, number>;
  readonly instances: ReadonlyArray<{ id: string; token: string | undefined; state: Ec2StateName }>;
}

/** A running fake EC2. */
export interface FakeEc2Cloud {
  /** Root URL: the driver's `iaas_url`. */
  readonly url: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Faults in effect (mutable). */
  readonly faults: Ec2Faults;
  /** Every instance ever created, in creation order. */
  instances(): FakeEc2Instance[];
  /** Requests received, by action (throttled and failed ones included). */
  callCounts(): Record<string, number>;
  /** API requests received so far: every one, authentication's and throttled ones included. */
  requests(): number;
  /** How often each fault struck: `throttled`, `lost`, `failed`. */
  faultCounts(): Record<string, number>;
  /** The cloud terminates a VM outside cloudboot (a crash, a spot reclaim, an admin). */
  kill(instanceId: string): void;
  /** The cloud stops a VM (it stays, `stopped`). */
  stop(instanceId: string): void;
  /** The cloud moves a VM into `state` and keeps it there until it is terminated. */
  setState(instanceId: string, state: Ec2StateName): void;
  /** Stops the server and drops its connections. */
  close(): Promise<void>;
}

interface Instance {
  readonly id: string;
  readonly reservationId: string;
  readonly token: string | undefined;
  readonly imageId: string;
  readonly instanceType: string;
  readonly keyName: string | undefined;
  readonly zone: string;
  readonly subnetId: string | undefined;
  readonly groupIds: string[];
  readonly groupNames: string[];
  readonly tags: Record<string, string>;
  readonly volumeTags: Record<string, string>;
  readonly ip: string;
  readonly request: Record<string, string>;
  readonly launchedAt: number;
  readonly bootMs: number;
  endedAt?: number;
  stoppedAt?: number;
  /** A state set by `setState`, shown until the instance is terminated. */
  held?: Ec2StateName;
}

/** An answer: XML body and HTTP status. */
interface Answer {
  readonly status: number;
  readonly body: string;
  /** Drop the connection instead of answering (the work is done). */
  readonly lose?: boolean;
}

/** An error EC2 answers with. */
class Ec2Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** `<name>value</name>`, or nothing when value is undefined. */
const el = (name: string, value: string | number | boolean | undefined): string =>
  value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;

const items = <T>(name: string, list: readonly T[], render: (item: T) => string): string =>
  `<${name}>${list.map((i) => `<item>${render(i)}</item>`).join('')}</${name}>`;

const tagSet = (tags: Readonly<Record<string, string>>) =>
  items('tagSet', Object.entries(tags), ([k, v]) => el('key', k) + el('value', v));

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Values of `PREFIX.1`, `PREFIX.2`, … in numeric order. */
function list(params: Map<string, string>, prefix: string): string[] {
  const found: Array<[number, string]> = [];
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)$`);
  for (const [key, value] of params) {
    const m = pattern.exec(key);
    if (m) found.push([Number(m[1]), value]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Indexes N of `PREFIX.N.…` keys, sorted. */
function indexes(params: Map<string, string>, prefix: string): number[] {
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`);
  const found = new Set<number>();
  for (const key of params.keys()) {
    const m = pattern.exec(key);
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

function tagSpecifications(params: Map<string, string>): Map<string, Record<string, string>> {
  const byType = new Map<string, Record<string, string>>();
  for (const i of indexes(params, 'TagSpecification')) {
    const type = params.get(`TagSpecification.${i}.ResourceType`) ?? '';
    const tags: Record<string, string> = byType.get(type) ?? {};
    for (const j of indexes(params, `TagSpecification.${i}.Tag`)) {
      const key = params.get(`TagSpecification.${i}.Tag.${j}.Key`);
      if (key !== undefined) tags[key] = params.get(`TagSpecification.${i}.Tag.${j}.Value`) ?? '';
    }
    byType.set(type, tags);
  }
  return byType;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * Starts a fake EC2 on 127.0.0.1.
 * @example
 * const cloud = await startEc2Cloud({ addresses: ['127.0.0.1'], bootDelayMs: 100 });
 * // plan: iaas_url: ${cloud.url}, iaas_key: ${cloud.accessKeyId}, iaas_secret: …
 */
export async function startEc2Cloud(options: Ec2CloudOptions = {}): Promise<FakeEc2Cloud> {
  const region = options.region ?? 'us-east-1';
  const addresses = options.addresses?.length ? options.addresses : ['127.0.0.1'];
  const bootDelayMs = options.bootDelayMs ?? 200;
  const shuttingDownMs = options.shuttingDownMs ?? 50;
  const visibleMs = options.terminatedVisibleMs ?? 60_000;
  const keyIds = new Set(options.accessKeyIds ?? [FAKE_ACCESS_KEY_ID]);
  const random = options.random ?? Math.random;
  const faults: Ec2Faults = { ...options.faults };
  const instances: Instance[] = [];
  const byId = new Map<string, Instance>();
  const byToken = new Map<string, Instance>();
  const calls: Record<string, number> = {};
  const struck: Record<string, number> = { throttled: 0, lost: 0, failed: 0 };
  let callNumber = 0;
  let nextAddress = 0;
  const withinRate = bucketKeeper();

  const stateOf = (i: Instance, now = Date.now()): Ec2StateName => {
    if (i.endedAt !== undefined)
      return now < i.endedAt + shuttingDownMs ? 'shutting-down' : 'terminated';
    if (i.held !== undefined) return i.held;
    if (i.stoppedAt !== undefined)
      return now < i.stoppedAt + shuttingDownMs ? 'stopping' : 'stopped';
    return now < i.launchedAt + i.bootMs ? 'pending' : 'running';
  };
  const listed = (i: Instance, now = Date.now()) =>
    i.endedAt === undefined || now < i.endedAt + shuttingDownMs + visibleMs;

  function instanceXml(i: Instance): string {
    const state = stateOf(i);
    const up = state === 'running';
    const alive = state !== 'terminated';
    const dashed = i.ip.replaceAll('.', '-');
    return (
      el('instanceId', i.id) +
      el('imageId', i.imageId) +
      `<instanceState>${el('code', STATE_CODES[state])}${el('name', state)}</instanceState>` +
      el('privateDnsName', alive ? `ip-${dashed}.ec2.internal` : '') +
      el('dnsName', up ? `ec2-${dashed}.compute-1.amazonaws.com` : '') +
      el('keyName', i.keyName) +
      el('amiLaunchIndex', 0) +
      el('instanceType', i.instanceType) +
      el('launchTime', new Date(i.launchedAt).toISOString()) +
      `<placement>${el('availabilityZone', i.zone)}${el('tenancy', 'default')}</placement>` +
      el('subnetId', i.subnetId) +
      (alive ? el('privateIpAddress', i.ip) : '') +
      (up ? el('ipAddress', i.ip) : '') +
      items(
        'groupSet',
        [
          ...i.groupIds.map((g) => [g, g] as const),
          ...i.groupNames.map((g) => [`sg-${g}`, g] as const),
        ],
        ([id, name]) => el('groupId', id) + el('groupName', name),
      ) +
      el('clientToken', i.token ?? '') +
      tagSet(i.tags)
    );
  }

  function reservationsXml(list: readonly Instance[]): string {
    const groups = new Map<string, Instance[]>();
    for (const i of list) groups.set(i.reservationId, [...(groups.get(i.reservationId) ?? []), i]);
    return items(
      'reservationSet',
      [...groups.entries()],
      ([id, members]) =>
        el('reservationId', id) +
        el('ownerId', '123456789012') +
        '<groupSet/>' +
        items('instancesSet', members, instanceXml),
    );
  }

  const response = (action: string, inner: string): Answer => ({
    status: 200,
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NAMESPACE}">${el('requestId', randomUUID())}${inner}</${action}Response>`,
  });

  /** The listed instances for ids; unknown or malformed ids answer EC2's errors. */
  function known(ids: readonly string[]): Instance[] {
    const malformed = ids.find((id) => !INSTANCE_ID.test(id));
    if (malformed !== undefined)
      throw new Ec2Fault('InvalidInstanceID.Malformed', `Invalid id: "${malformed}"`);
    const unknown = ids.filter((id) => {
      const i = byId.get(id);
      return i === undefined || !listed(i);
    });
    if (unknown.length === 1)
      throw new Ec2Fault(
        'InvalidInstanceID.NotFound',
        `The instance ID '${unknown[0]}' does not exist`,
      );
    if (unknown.length > 1)
      throw new Ec2Fault(
        'InvalidInstanceID.NotFound',
        `The instance IDs '${unknown.join(', ')}' do not exist`,
      );
    return ids.map((id) => byId.get(id) as Instance);
  }

  function runInstances(p: Map<string, string>): Answer {
    const imageId = p.get('ImageId');
    if (imageId === undefined)
      throw new Ec2Fault('MissingParameter', 'The request must contain the parameter ImageId');
    const token = p.get('ClientToken');
    const again = token === undefined ? undefined : byToken.get(token);
    if (again !== undefined) return runAnswer(again);
    if (!imageId.startsWith('ami-') && !imageId.startsWith('resolve:ssm:'))
      throw new Ec2Fault(
        'InvalidAMIID.Malformed',
        `Invalid id: "${imageId}" (expecting "ami-...")`,
      );
    const missing = faults.missing ?? {};
    if (missing.images?.includes(imageId))
      throw new Ec2Fault('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
    const keyName = p.get('KeyName');
    if (keyName !== undefined && missing.keyPairs?.includes(keyName))
      throw new Ec2Fault('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`);
    const groupIds = list(p, 'SecurityGroupId');
    const groupNames = list(p, 'SecurityGroup');
    const noGroup = [...groupIds, ...groupNames].find((g) => missing.securityGroups?.includes(g));
    if (noGroup !== undefined)
      throw new Ec2Fault('InvalidGroup.NotFound', `The security group '${noGroup}' does not exist`);
    const subnetId = p.get('SubnetId');
    if (subnetId !== undefined && missing.subnets?.includes(subnetId))
      throw new Ec2Fault('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    const instanceType = p.get('InstanceType') ?? 'm1.small';
    const zone = p.get('Placement.AvailabilityZone') ?? `${region}a`;
    if (
      faults.capacity?.instanceTypes?.includes(instanceType) ||
      faults.capacity?.zones?.includes(zone)
    )
      throw new Ec2Fault(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${zone}).`,
        500,
      );
    const specs = tagSpecifications(p);
    const ip = addresses[nextAddress++ % addresses.length] as string;
    const instance: Instance = {
      id: `i-${hex(9).slice(0, 17)}`,
      reservationId: `r-${hex(9).slice(0, 17)}`,
      token,
      imageId,
      instanceType,
      keyName,
      zone,
      subnetId,
      groupIds,
      groupNames,
      tags: specs.get('instance') ?? {},
      volumeTags: specs.get('volume') ?? {},
      ip,
      request: Object.fromEntries(p),
      launchedAt: Date.now(),
      bootMs: bootDelayMs + (faults.slowBootMs ?? 0),
    };
    instances.push(instance);
    byId.set(instance.id, instance);
    if (token !== undefined) byToken.set(token, instance);
    return { ...runAnswer(instance), lose: loseThisAnswer() };
  }

  const runAnswer = (i: Instance) =>
    response(
      'RunInstances',
      el('reservationId', i.reservationId) +
        el('ownerId', '123456789012') +
        '<groupSet/>' +
        items('instancesSet', [i], instanceXml),
    );

  function loseThisAnswer(): boolean {
    if ((faults.loseAnswers ?? 0) > 0) {
      faults.loseAnswers = (faults.loseAnswers ?? 0) - 1;
      return true;
    }
    return (faults.loseAnswerRate ?? 0) > 0 && random() < (faults.loseAnswerRate ?? 0);
  }

  function matches(i: Instance, filters: ReadonlyArray<[string, string[]]>): boolean {
    return filters.every(([name, values]) => {
      if (name === 'instance-id') return values.includes(i.id);
      if (name === 'instance-state-name') return values.includes(stateOf(i));
      if (name === 'client-token') return i.token !== undefined && values.includes(i.token);
      if (name === 'availability-zone') return values.includes(i.zone);
      if (name === 'tag-key') return values.some((v) => v in i.tags);
      if (name.startsWith('tag:')) {
        const value = i.tags[name.slice(4)];
        return value !== undefined && values.includes(value);
      }
      throw new Ec2Fault('InvalidParameterValue', `The filter '${name}' is invalid`);
    });
  }

  function describeInstances(p: Map<string, string>): Answer {
    const ids = list(p, 'InstanceId');
    const maxText = p.get('MaxResults');
    if (ids.length > 0 && maxText !== undefined)
      throw new Ec2Fault(
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    const max = maxText === undefined ? undefined : Number(maxText);
    if (max !== undefined && !(max >= 5 && max <= 1000))
      throw new Ec2Fault(
        'InvalidParameterValue',
        `Value ( ${maxText} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
      );
    const filters = indexes(p, 'Filter').map(
      (n) => [p.get(`Filter.${n}.Name`) ?? '', list(p, `Filter.${n}.Value`)] as [string, string[]],
    );
    const now = Date.now();
    const chosen = (ids.length > 0 ? known(ids) : instances.filter((i) => listed(i, now))).filter(
      (i) => matches(i, filters),
    );
    const start = Number(Buffer.from(p.get('NextToken') ?? '', 'base64').toString() || '0');
    const size = max ?? faults.pageSize ?? chosen.length;
    const page = chosen.slice(start, start + size);
    const next =
      start + size < chosen.length
        ? Buffer.from(String(start + size)).toString('base64')
        : undefined;
    return response('DescribeInstances', reservationsXml(page) + el('nextToken', next));
  }

  function terminateInstances(p: Map<string, string>): Answer {
    const ids = list(p, 'InstanceId');
    if (ids.length === 0)
      throw new Ec2Fault('MissingParameter', 'The request must contain the parameter InstanceId');
    const now = Date.now();
    const changes = known(ids).map((i) => {
      const before = stateOf(i, now);
      i.endedAt ??= now;
      return { id: i.id, before, after: stateOf(i, now) };
    });
    const state = (name: Ec2StateName) => el('code', STATE_CODES[name]) + el('name', name);
    return response(
      'TerminateInstances',
      items(
        'instancesSet',
        changes,
        (c) =>
          el('instanceId', c.id) +
          `<currentState>${state(c.after)}</currentState><previousState>${state(c.before)}</previousState>`,
      ),
    );
  }

  function describeRegions(): Answer {
    return response(
      'DescribeRegions',
      items(
        'regionInfo',
        [region],
        (r) =>
          el('regionName', r) +
          el('regionEndpoint', `ec2.${r}.amazonaws.com`) +
          el('optInStatus', 'opt-in-not-required'),
      ),
    );
  }

  function describeImages(p: Map<string, string>): Answer {
    const ids = list(p, 'ImageId');
    const gone = ids.find((id) => faults.missing?.images?.includes(id) || !id.startsWith('ami-'));
    if (gone !== undefined)
      throw new Ec2Fault('InvalidAMIID.NotFound', `The image id '[${gone}]' does not exist`);
    return response(
      'DescribeImages',
      items(
        'imagesSet',
        ids,
        (id) =>
          el('imageId', id) +
          el('imageState', 'available') +
          el('rootDeviceType', 'ebs') +
          el('rootDeviceName', '/dev/xvda'),
      ),
    );
  }

  const actions: Record<string, (p: Map<string, string>) => Answer> = {
    RunInstances: runInstances,
    DescribeInstances: describeInstances,
    TerminateInstances: terminateInstances,
    DescribeRegions: describeRegions,
    DescribeImages: describeImages,
  };

  function answer(req: IncomingMessage, p: Map<string, string>): Answer {
    const action = p.get('Action') ?? '';
    calls[action] = (calls[action] ?? 0) + 1;
    callNumber += 1;
    const credential = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\//.exec(
      req.headers.authorization ?? '',
    );
    if (credential === null)
      throw new Ec2Fault(
        'AuthFailure',
        'AWS was not able to validate the provided access credentials',
        401,
      );
    if (!keyIds.has(credential[1] ?? ''))
      throw new Ec2Fault(
        'AuthFailure',
        'AWS was not able to validate the provided access credentials',
        401,
      );
    if (p.get('Version') !== API_VERSION)
      throw new Ec2Fault(
        'InvalidParameterValue',
        `Version ${p.get('Version') ?? '(none)'} is not supported; expected ${API_VERSION}`,
      );
    const handler = actions[action];
    if (handler === undefined)
      throw new Ec2Fault(
        'InvalidAction',
        `The action ${action || '(none)'} is not valid for this web service.`,
      );
    if (
      (faults.throttleEvery !== undefined &&
        faults.throttleEvery > 0 &&
        callNumber % faults.throttleEvery === 0) ||
      !withinRate(faults.rateLimit)
    ) {
      struck.throttled = (struck.throttled ?? 0) + 1;
      throw new Ec2Fault('RequestLimitExceeded', 'Request limit exceeded.', 503);
    }
    const planned =
      faults.failNext?.findIndex((f) => f.action === undefined || f.action === action) ?? -1;
    if (planned >= 0) {
      const [fault] = faults.failNext?.splice(planned, 1) ?? [];
      struck.failed = (struck.failed ?? 0) + 1;
      throw new Ec2Fault(
        fault?.code ?? 'InternalError',
        fault?.message ?? `injected ${fault?.code}`,
        fault?.status ?? 400,
      );
    }
    return handler(p);
  }

  function errorAnswer(fault: Ec2Fault): Answer {
    return {
      status: fault.status,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${el('Code', fault.code)}${el('Message', fault.message)}</Error></Errors>${el('RequestID', randomUUID())}</Response>`,
    };
  }

  function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (req.method === 'GET' && req.url === STATE_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(fakeState()));
      return;
    }
    let result: Answer;
    try {
      if (req.method !== 'POST')
        throw new Ec2Fault(
          'InvalidAction',
          `${req.method} is not supported; the EC2 Query API takes POST`,
        );
      result = answer(req, new Map(new URLSearchParams(body)));
    } catch (error) {
      if (!(error instanceof Ec2Fault)) throw error;
      result = errorAnswer(error);
    }
    if (result.lose) {
      struck.lost = (struck.lost ?? 0) + 1;
      req.socket.destroy();
      return;
    }
    res.writeHead(result.status, { 'content-type': 'text/xml;charset=UTF-8' });
    res.end(result.body);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const snapshot = (i: Instance): FakeEc2Instance => ({
    id: i.id,
    reservationId: i.reservationId,
    token: i.token,
    imageId: i.imageId,
    instanceType: i.instanceType,
    keyName: i.keyName,
    zone: i.zone,
    subnetId: i.subnetId,
    securityGroupIds: i.groupIds,
    securityGroupNames: i.groupNames,
    tags: { ...i.tags },
    volumeTags: { ...i.volumeTags },
    publicIp: i.ip,
    privateIp: i.ip,
    request: { ...i.request },
    state: stateOf(i),
    purged: !listed(i),
  });
  const existing = (id: string): Instance => {
    const i = byId.get(id);
    if (i === undefined) throw new Error(`the fake EC2 has no instance ${id}`);
    return i;
  };

  function fakeState(): FakeEc2State {
    return {
      calls: { ...calls },
      faults: { ...struck },
      instances: instances.map((i) => ({ id: i.id, token: i.token, state: stateOf(i) })),
    };
  }

  return {
    url: `http://127.0.0.1:${port}`,
    region,
    accessKeyId: [...keyIds][0] ?? FAKE_ACCESS_KEY_ID,
    secretAccessKey: FAKE_SECRET_ACCESS_KEY,
    faults,
    instances: () => instances.map(snapshot),
    callCounts: () => ({ ...calls }),
    requests: () => callNumber,
    faultCounts: () => ({ ...struck }),
    kill: (id) => {
      existing(id).endedAt ??= Date.now();
    },
    stop: (id) => {
      const i = existing(id);
      if (i.endedAt === undefined) i.stoppedAt ??= Date.now();
    },
    setState: (id, state) => {
      existing(id).held = state;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
