/**
 * The narrow part of `@google-cloud/compute` the driver uses, behind one
 * object: credentials and project resolved once on first use, SDK clients
 * created on first use (constructing the driver does no I/O), every call
 * made once (`retry: null`: retries are core's, so they are counted and
 * rate-limited in one place), each request in the account's pace.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { DriverError, type RequestPace } from '@cloudboot/core';
import type { protos } from '@google-cloud/compute';
import type { ImagesClient } from '@google-cloud/compute/build/src/v1/images_client.js';
import type { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import type { MachineTypesClient } from '@google-cloud/compute/build/src/v1/machine_types_client.js';
import type { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import type { SubnetworksClient } from '@google-cloud/compute/build/src/v1/subnetworks_client.js';
import type { ZoneOperationsClient } from '@google-cloud/compute/build/src/v1/zone_operations_client.js';
import type { ZonesClient } from '@google-cloud/compute/build/src/v1/zones_client.js';
import type { AuthClient } from 'google-auth-library';
import { failureOf, GCE, kindOf } from './gce-errors.js';
import type { GceDriverOptions } from './gce-settings.js';

/** A Compute Engine instance as the API returns it. */
export type GceInstance = protos.google.cloud.compute.v1.IInstance;
/** A zone operation as the API returns it. */
export type GceOperation = protos.google.cloud.compute.v1.IOperation;

/** Scope of the driver's own API calls. */
const API_SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];
/** Call options of every request: no retries inside the client library. */
const ONCE = { retry: null } as const;

/** Options of every SDK client. */
type ClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

interface KeyFile {
  readonly type?: string;
  readonly project_id?: string;
  readonly client_email?: string;
  readonly private_key?: string;
  readonly private_key_id?: string;
}

/** Authentication and project, resolved once. */
interface Account {
  readonly authClient: AuthClient;
  readonly project: string;
}

function invalid(message: string): DriverError {
  return new DriverError('invalid-request', GCE, message);
}

/** Reads `gce_credentials`: the key file's JSON contents, or a path to it (`~/` expands). */
async function readKeyFile(source: string): Promise<KeyFile> {
  const inline = source.trimStart().startsWith('{');
  let text = source;
  if (!inline) {
    try {
      text = await readFile(source.replace(/^~(?=\/)/, homedir()), 'utf8');
    } catch (error) {
      throw invalid(
        `gce_credentials: cannot read the key file ${source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; expected a service-account key file (JSON)`,
      );
    }
  }
  try {
    return JSON.parse(text) as KeyFile;
  } catch {
    // Never echo the contents: they are a secret.
    throw invalid(
      `gce_credentials: ${inline ? 'the value' : `the file ${source}`} is not JSON; expected a service-account key file`,
    );
  }
}

async function resolveAccount(options: GceDriverOptions): Promise<Account> {
  const credentials = options.credentials;
  let authClient: AuthClient;
  let keyProject: string | undefined;
  // Loaded on first use: most commands of most runs never talk to Compute Engine.
  const { GoogleAuth, JWT, OAuth2Client } = await import('google-auth-library');
  if (credentials.kind === 'access-token') {
    const oauth = new OAuth2Client();
    oauth.setCredentials({ access_token: credentials.token });
    authClient = oauth;
  } else if (credentials.kind === 'key-file') {
    const key = await readKeyFile(credentials.source);
    keyProject = key.project_id;
    if (key.type === 'service_account') {
      if (key.client_email === undefined || key.private_key === undefined) {
        throw invalid(
          'gce_credentials: the service-account key has no client_email or private_key',
        );
      }
      // A self-signed JWT with the scope in it: no token exchange with Google's
      // token endpoint, so it also works against a private endpoint.
      const jwt = new JWT({
        email: key.client_email,
        key: key.private_key,
        ...(key.private_key_id !== undefined && { keyId: key.private_key_id }),
        scopes: API_SCOPES,
      });
      jwt.useJWTAccessWithScope = true;
      authClient = jwt;
    } else {
      authClient = await new GoogleAuth({
        credentials: key as Record<string, string>,
        scopes: API_SCOPES,
      }).getClient();
    }
  } else {
    authClient = await new GoogleAuth({ scopes: API_SCOPES }).getClient();
  }
  const project = options.project ?? keyProject ?? options.defaultProject;
  if (project === undefined) {
    throw invalid(
      'no project: set gce_project (the key file has no project_id and GOOGLE_CLOUD_PROJECT is not set)',
    );
  }
  return { authClient, project };
}

/**
 * The SDK's clients, each loaded from its own module on first use: the
 * package's index loads every Compute API at once, which costs seconds.
 */
const CLIENTS = {
  instances: async () =>
    (await import('@google-cloud/compute/build/src/v1/instances_client.js')).InstancesClient,
  operations: async () =>
    (await import('@google-cloud/compute/build/src/v1/zone_operations_client.js'))
      .ZoneOperationsClient,
  images: async () =>
    (await import('@google-cloud/compute/build/src/v1/images_client.js')).ImagesClient,
  machineTypes: async () =>
    (await import('@google-cloud/compute/build/src/v1/machine_types_client.js')).MachineTypesClient,
  networks: async () =>
    (await import('@google-cloud/compute/build/src/v1/networks_client.js')).NetworksClient,
  subnetworks: async () =>
    (await import('@google-cloud/compute/build/src/v1/subnetworks_client.js')).SubnetworksClient,
  zones: async () =>
    (await import('@google-cloud/compute/build/src/v1/zones_client.js')).ZonesClient,
};

interface Clients {
  instances: InstancesClient;
  operations: ZoneOperationsClient;
  images: ImagesClient;
  machineTypes: MachineTypesClient;
  networks: NetworksClient;
  subnetworks: SubnetworksClient;
  zones: ZonesClient;
}

/** The Compute Engine calls of the driver. */
export class GceClient {
  readonly #options: GceDriverOptions;
  #account: Promise<Account> | undefined;
  readonly #clients = new Map<keyof Clients, Promise<unknown>>();
  #pace: RequestPace | undefined;

  constructor(options: GceDriverOptions) {
    this.#options = options;
  }

  /** Sends every request from now on in the account's pace. */
  usePace(pace: RequestPace): void {
    this.#pace = pace;
  }

  /** Sends one API request, in the account's pace when there is one. */
  #send<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return (
      this.#pace?.request(send, { signal, kindOf: (thrown) => kindOf(failureOf(thrown)) }) ?? send()
    );
  }

  /** The project, once credentials are read. */
  async project(): Promise<string> {
    return (await this.#resolve()).project;
  }

  #resolve(): Promise<Account> {
    this.#account ??= resolveAccount(this.#options).catch((error: unknown) => {
      this.#account = undefined;
      throw error;
    });
    return this.#account;
  }

  /** One SDK client, created on first use with the account's credentials and endpoint. */
  #sdk<K extends keyof Clients>(kind: K): Promise<Clients[K]> {
    let client = this.#clients.get(kind) as Promise<Clients[K]> | undefined;
    if (client === undefined) {
      client = (async () => {
        const { authClient } = await this.#resolve();
        const endpoint = this.#options.endpoint;
        const Client = (await CLIENTS[kind]()) as unknown as new (
          options: ClientOptions,
        ) => Clients[K];
        return new Client({
          // The client library types an auth client of its own copy of google-auth-library.
          authClient: authClient as unknown as ClientOptions['authClient'],
          fallback: true,
          ...(endpoint !== undefined && {
            apiEndpoint: endpoint.host,
            port: endpoint.port,
            protocol: endpoint.protocol,
          }),
        });
      })();
      client.catch(() => this.#clients.delete(kind));
      this.#clients.set(kind, client);
    }
    return client;
  }

  /** `zones.get`: checks credentials, endpoint, project and zone. */
  async getZone(project: string, zone: string, signal?: AbortSignal): Promise<void> {
    const zones = await this.#sdk('zones');
    await this.#send(() => zones.get({ project, zone }, ONCE), signal);
  }

  /** `instances.get`. @throws the client's error (404 when there is no such instance). */
  async getInstance(
    project: string,
    zone: string,
    instance: string,
    signal?: AbortSignal,
  ): Promise<GceInstance> {
    const instances = await this.#sdk('instances');
    const [found] = await this.#send(
      () => instances.get({ project, zone, instance }, ONCE),
      signal,
    );
    return found;
  }

  /** `instances.insert` with a `requestId`; returns the zone operation. */
  async insertInstance(
    project: string,
    zone: string,
    requestId: string,
    instanceResource: GceInstance,
    signal?: AbortSignal,
  ): Promise<GceOperation> {
    const instances = await this.#sdk('instances');
    const [operation] = await this.#send(
      () => instances.insert({ project, zone, requestId, instanceResource }, ONCE),
      signal,
    );
    return operation.latestResponse as GceOperation;
  }

  /** `zoneOperations.wait` until the operation is DONE (the API returns after at most ~2 minutes). */
  async waitOperation(
    project: string,
    zone: string,
    operation: GceOperation,
    signal?: AbortSignal,
  ): Promise<GceOperation> {
    let current = operation;
    const operations = await this.#sdk('operations');
    while (String(current.status) !== 'DONE') {
      const name = String(current.name);
      [current] = await this.#send(
        () => operations.wait({ project, zone, operation: name }, ONCE),
        signal,
      );
    }
    return current;
  }

  /** `instances.list` with a filter, every page. */
  async listInstances(
    project: string,
    zone: string,
    filter: string,
    signal?: AbortSignal,
  ): Promise<GceInstance[]> {
    const instances = await this.#sdk('instances');
    const all: GceInstance[] = [];
    let pageToken: string | undefined;
    do {
      const page = { project, zone, filter, maxResults: 500, ...(pageToken && { pageToken }) };
      const [items, , raw] = await this.#send(
        () => instances.list(page, { ...ONCE, autoPaginate: false }),
        signal,
      );
      all.push(...items);
      pageToken = raw?.nextPageToken ?? undefined;
    } while (pageToken);
    return all;
  }

  /** `instances.delete` (not awaited to completion). */
  async deleteInstance(
    project: string,
    zone: string,
    instance: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const instances = await this.#sdk('instances');
    await this.#send(() => instances.delete({ project, zone, instance }, ONCE), signal);
  }

  /** `images.get` or `images.getFromFamily`; returns the image's self link. */
  async image(project: string, name: string, family: boolean): Promise<string> {
    const images = await this.#sdk('images');
    const [image] = await this.#send(() =>
      family
        ? images.getFromFamily({ project, family: name }, ONCE)
        : images.get({ project, image: name }, ONCE),
    );
    return String(image.selfLink ?? `projects/${project}/global/images/${image.name ?? name}`);
  }

  /** `machineTypes.get`. */
  async machineType(project: string, zone: string, machineType: string): Promise<void> {
    const machineTypes = await this.#sdk('machineTypes');
    await this.#send(() => machineTypes.get({ project, zone, machineType }, ONCE));
  }

  /** `networks.get`. */
  async network(project: string, network: string): Promise<void> {
    const networks = await this.#sdk('networks');
    await this.#send(() => networks.get({ project, network }, ONCE));
  }

  /** `subnetworks.get`. */
  async subnetwork(project: string, region: string, subnetwork: string): Promise<void> {
    const subnetworks = await this.#sdk('subnetworks');
    await this.#send(() => subnetworks.get({ project, region, subnetwork }, ONCE));
  }
}
