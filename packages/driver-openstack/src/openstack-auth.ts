/**
 * A Keystone v3 session: authenticates (password or application
 * credential), reuses the token until shortly before it expires, finds
 * service endpoints in the token's catalog by type, region and interface,
 * and sends API requests with the token (each in the account's pace, when
 * given one), authenticating again exactly once when a request is refused
 * with 401.
 *
 * The credentials live only in this object's private fields.
 */
import { DriverError, type DriverErrorKind, type RequestPace } from '@cloudboot/core';
import type { AuthConfig } from './openstack-clouds.js';
import {
  type CloudError,
  cloudCallError,
  driverError,
  errorKind,
  type OpenstackService,
  parseCloudError,
  parseRetryAfter,
} from './openstack-errors.js';

/** The `fetch` the session uses (Node's by default). */
export type FetchFunction = typeof fetch;

/** Catalog service types the driver uses, and which service answers for each. */
export const SERVICE_TYPES = {
  compute: 'Nova',
  image: 'Glance',
  network: 'Neutron',
} as const satisfies Readonly<Record<string, OpenstackService>>;

/** A catalog service type the driver uses. */
export type ServiceType = keyof typeof SERVICE_TYPES;

interface CatalogEndpoint {
  readonly interface?: string;
  readonly region?: string;
  readonly region_id?: string;
  readonly url?: string;
}

interface CatalogEntry {
  readonly type?: string;
  readonly endpoints?: readonly CatalogEndpoint[];
}

interface Token {
  readonly value: string;
  /** Renew at this time (ms since the epoch). */
  readonly renewAt: number;
  readonly catalog: readonly CatalogEntry[];
}

/** One API request. */
export interface ApiRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path below the service's endpoint, with its query string. */
  readonly path: string;
  readonly body?: unknown;
  /** What is being done, for error messages: `create server cb-…`. */
  readonly action: string;
  /** Statuses other than 2xx the caller handles itself (e.g. 404 on delete). */
  readonly accept?: readonly number[];
  readonly signal?: AbortSignal;
}

/** An answer: its status and parsed JSON body (undefined when empty). */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  /** The cloud's error, when the status is not 2xx. */
  readonly error?: CloudError;
}

/** `promise`, or the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Longest time before expiry at which a token is renewed. */
const RENEW_MARGIN_MS = 30_000;

function withoutSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Keystone's v3 URL from an auth URL given with or without `/v3`. */
export function keystoneV3Url(authUrl: string): string {
  const url = withoutSlash(authUrl);
  return /\/v3$/.test(url) ? url : `${url}/v3`;
}

/** The versioned base URL of a service from its catalog URL (Glance and Neutron list unversioned ones). */
function versioned(type: ServiceType, url: string): string {
  const base = withoutSlash(url);
  if (type === 'image') return /\/v2(\.\d+)?$/.test(base) ? base : `${base}/v2`;
  if (type === 'network') return /\/v2\.0$/.test(base) ? base : `${base}/v2.0`;
  return base;
}

function authBody(config: AuthConfig): unknown {
  if (config.authType === 'v3applicationcredential') {
    const credential =
      config.applicationCredentialId !== undefined
        ? { id: config.applicationCredentialId, secret: config.applicationCredentialSecret }
        : {
            name: config.applicationCredentialName,
            secret: config.applicationCredentialSecret,
            user: userOf(config),
          };
    // An application credential carries its own project scope.
    return {
      auth: {
        identity: { methods: ['application_credential'], application_credential: credential },
      },
    };
  }
  const projectDomain =
    config.projectDomainId !== undefined
      ? { id: config.projectDomainId }
      : { name: config.projectDomainName ?? config.userDomainName ?? 'Default' };
  const scope =
    config.projectId !== undefined
      ? { project: { id: config.projectId } }
      : config.projectName !== undefined
        ? { project: { name: config.projectName, domain: projectDomain } }
        : undefined;
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { ...userOf(config), password: config.password } },
      },
      ...(scope !== undefined && { scope }),
    },
  };
}

function userOf(config: AuthConfig): Record<string, unknown> {
  if (config.userId !== undefined) return { id: config.userId };
  const domain =
    config.userDomainId !== undefined
      ? { id: config.userDomainId }
      : { name: config.userDomainName ?? 'Default' };
  return { name: config.username, domain };
}

/** The {@link DriverError} for an error answer, with the wait its `Retry-After` asks for. */
function failure(
  service: OpenstackService,
  action: string,
  response: Response,
  error: CloudError,
): DriverError {
  return cloudCallError({
    service,
    action,
    status: response.status,
    error,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
  });
}

/** The kind of what a request threw: its driver error's, else (an abort) nothing the pace should count. */
function kindOfThrown(thrown: unknown): DriverErrorKind {
  return thrown instanceof DriverError ? thrown.kind : 'transient';
}

async function readBody(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A Keystone session for one account and region. Creating it does no I/O. */
export class KeystoneSession {
  readonly #config: () => AuthConfig;
  readonly #fetch: FetchFunction;
  #token: Token | undefined;
  #authenticating: Promise<Token> | undefined;
  #pace: RequestPace | undefined;

  /**
   * @param config Resolves the credentials (read on first use, once).
   * @param fetchFunction The HTTP client.
   */
  constructor(config: () => AuthConfig, fetchFunction: FetchFunction = fetch) {
    let resolved: AuthConfig | undefined;
    this.#config = () => {
      resolved ??= config();
      return resolved;
    };
    this.#fetch = fetchFunction;
  }

  /**
   * Sends one API request to a service of the catalog.
   * @throws DriverError for an answer that is not 2xx (and not in `accept`),
   *   `auth` for a 401 that a fresh token did not cure, `transient` when
   *   nothing answered.
   */
  async request(type: ServiceType, request: ApiRequest): Promise<ApiResponse> {
    const service = SERVICE_TYPES[type];
    for (let attempt = 1; ; attempt++) {
      const token = await this.#currentToken(request.signal);
      const url = `${this.#endpoint(token, type)}${request.path}`;
      const { response, text } = await this.#exchange(service, request.action, url, {
        method: request.method,
        headers: {
          Accept: 'application/json',
          'X-Auth-Token': token.value,
          ...(request.body !== undefined && { 'Content-Type': 'application/json' }),
        },
        ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
        ...(request.signal !== undefined && { signal: request.signal }),
      });
      if (response.status === 401 && attempt === 1) {
        // The token was revoked or expired early: authenticate again, once.
        if (this.#token === token) this.#token = undefined;
        continue;
      }
      if (response.ok) return { status: response.status, body: parseJson(text) };
      const error = parseCloudError(response.status, text);
      if (request.accept?.includes(response.status)) {
        return { status: response.status, body: parseJson(text), error };
      }
      throw failure(service, request.action, response, error);
    }
  }

  /** Authenticates (or reuses the token) and checks that the catalog has `types`. */
  async check(types: readonly ServiceType[], signal?: AbortSignal): Promise<void> {
    const token = await this.#currentToken(signal);
    for (const type of types) this.#endpoint(token, type);
  }

  /** Sends every request from now on in the account's pace. */
  usePace(pace: RequestPace): void {
    this.#pace = pace;
  }

  /**
   * Sends one request and reads its answer, in the account's pace when there
   * is one. A throttling answer is thrown (its {@link DriverError}), so the
   * pace sees it; any other answer is returned.
   */
  #exchange(
    service: OpenstackService,
    action: string,
    url: string,
    init: RequestInit,
  ): Promise<{ response: Response; text: string }> {
    const exchange = async () => {
      const response = await this.#send(service, action, url, init);
      const text = await readBody(response);
      if (response.status === 413 || response.status === 429) {
        const error = parseCloudError(response.status, text);
        if (errorKind(response.status, error.message) === 'throttled') {
          throw failure(service, action, response, error);
        }
      }
      return { response, text };
    };
    const signal = init.signal ?? undefined;
    return this.#pace?.request(exchange, { signal, kindOf: kindOfThrown }) ?? exchange();
  }

  async #send(
    service: OpenstackService,
    action: string,
    url: string,
    init: RequestInit,
  ): Promise<Response> {
    try {
      return await this.#fetch(url, init);
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw driverError(
        'transient',
        service,
        `${action}: no answer from ${new URL(url).origin} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
        { cause: error },
      );
    }
  }

  #currentToken(signal?: AbortSignal): Promise<Token> {
    const token = this.#token;
    if (token !== undefined && Date.now() < token.renewAt) return Promise.resolve(token);
    // Shared by every caller, so no one caller's signal may cancel it; each stops waiting on its own.
    this.#authenticating ??= this.#authenticate().finally(() => {
      this.#authenticating = undefined;
    });
    return signal === undefined ? this.#authenticating : abortable(this.#authenticating, signal);
  }

  async #authenticate(): Promise<Token> {
    const config = this.#config();
    const url = `${keystoneV3Url(config.authUrl)}/auth/tokens`;
    const action = `authenticate with ${config.source}`;
    const { response, text } = await this.#exchange('Keystone', action, url, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify(authBody(config)),
    });
    if (!response.ok) {
      throw failure('Keystone', action, response, parseCloudError(response.status, text));
    }
    const value = response.headers.get('x-subject-token');
    const body = parseJson(text) as
      | { token?: { expires_at?: string; issued_at?: string; catalog?: CatalogEntry[] } }
      | undefined;
    if (value === null || body?.token === undefined) {
      throw driverError(
        'transient',
        'Keystone',
        `${action}: the answer has no X-Subject-Token header or token document`,
      );
    }
    if (body.token.catalog === undefined || body.token.catalog.length === 0) {
      throw driverError(
        'auth',
        'Keystone',
        `${action}: the token has no service catalog (an unscoped token); set os_project_name or os_project_id`,
      );
    }
    const now = Date.now();
    const expires = Date.parse(body.token.expires_at ?? '') || now + 3_600_000;
    const issued = Date.parse(body.token.issued_at ?? '') || now;
    const margin = Math.min(RENEW_MARGIN_MS, (expires - issued) / 10);
    const token: Token = { value, renewAt: expires - margin, catalog: body.token.catalog };
    this.#token = token;
    return token;
  }

  #endpoint(token: Token, type: ServiceType): string {
    const config = this.#config();
    const entry = token.catalog.find((e) => e.type === type);
    const service = SERVICE_TYPES[type];
    if (entry === undefined) {
      throw this.#catalogError(
        service,
        `the catalog has no ${type} service (it has ${token.catalog.map((e) => e.type).join(', ')})`,
      );
    }
    const endpoints = entry.endpoints ?? [];
    const match = endpoints.find(
      (e) =>
        e.interface === config.interface &&
        (config.region === undefined ||
          e.region_id === config.region ||
          e.region === config.region) &&
        e.url !== undefined,
    );
    if (match?.url === undefined) {
      const offered = endpoints.map((e) => `${e.region_id ?? e.region ?? '?'}/${e.interface}`);
      throw this.#catalogError(
        service,
        `the catalog has no ${config.interface} ${type} endpoint${config.region !== undefined ? ` in region ${config.region}` : ''} (it has ${offered.join(', ')}); set iaas to a region and os_interface to an interface it has`,
      );
    }
    return versioned(type, match.url);
  }

  #catalogError(service: OpenstackService, message: string): DriverError {
    return driverError('invalid-request', service, message);
  }
}
