/**
 * Finds drivers by name (`ec2` → `@cloudboot/driver-ec2`) or by module
 * specifier (an in-house driver: `./drivers/my-cloud.js`, a package name),
 * checks the module's shape, and hands out one managed driver per
 * account/endpoint.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_RETRY } from '../backoff.js';
import { DriverLoadError } from '../errors.js';
import type { Driver, DriverFactory, DriverSettings } from './driver.js';
import { type CallCount, ManagedDriver, type ManagedDriverOptions } from './managed-driver.js';

/** Driver names cloudboot knows, and their packages. */
export const BUILTIN_DRIVERS: Readonly<Record<string, string>> = {
  ec2: '@cloudboot/driver-ec2',
  gce: '@cloudboot/driver-gce',
  openstack: '@cloudboot/driver-openstack',
  'static-ip': '@cloudboot/driver-static-ip',
};

/** Imports a module by specifier (a package name or a file URL). */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** How a {@link DriverRegistry} finds drivers. */
export interface DriverRegistryOptions {
  /** Factories given directly, by driver name; they win over modules. */
  readonly factories?: Readonly<Record<string, DriverFactory>>;
  /**
   * Imports driver packages. Pass `(s) => import(s)` from a module that can
   * resolve the driver packages (the CLI does). Default: import from core.
   */
  readonly importModule?: ModuleImporter;
  /** Passed to every {@link ManagedDriver}. */
  readonly managed?: ManagedDriverOptions;
}

function isPath(specifier: string): boolean {
  return specifier.startsWith('.') || isAbsolute(specifier) || specifier.startsWith('file:');
}

/**
 * The credential keys a driver module declares (`export const credentialKeys
 * = ['my_token']`): plan keys whose values core keeps out of the run
 * database, logs, `-o` and events. Empty when it declares none.
 * @throws DriverLoadError when the export is not a list of key names.
 */
export function credentialKeysOf(module: unknown, label: string): readonly string[] {
  const m = module as { credentialKeys?: unknown; default?: { credentialKeys?: unknown } };
  const keys = m?.credentialKeys ?? m?.default?.credentialKeys;
  if (keys === undefined) return [];
  if (
    !Array.isArray(keys) ||
    !keys.every((k) => typeof k === 'string' && /^[a-z0-9_]+$/i.test(k))
  ) {
    throw new DriverLoadError(
      `${label} exports credentialKeys that is not a list of plan key names: expected e.g. "export const credentialKeys = ['my_token']"`,
    );
  }
  return keys.map((k: string) => k.toLowerCase());
}

/** Returns the factory a driver module exports, or throws saying what is wrong. */
export function driverFactoryOf(module: unknown, label: string): DriverFactory {
  const m = module as { createDriver?: unknown; default?: { createDriver?: unknown } | unknown };
  const candidate =
    m?.createDriver ??
    (typeof m?.default === 'function'
      ? m.default
      : (m?.default as { createDriver?: unknown })?.createDriver);
  if (typeof candidate !== 'function') {
    throw new DriverLoadError(
      `${label} does not export a driver factory: expected "export function createDriver(settings) { return driver }"`,
    );
  }
  return candidate as DriverFactory;
}

/** Checks that an object has the {@link Driver} shape. */
export function checkDriverShape(driver: unknown, label: string): Driver {
  const d = driver as Partial<Driver> | undefined;
  const missing = ['launch', 'describe', 'terminate', 'validate'].filter(
    (m) => typeof (d as Record<string, unknown> | undefined)?.[m] !== 'function',
  );
  if (typeof d?.name !== 'string') missing.unshift('name');
  if (typeof d?.capabilities !== 'object' || d.capabilities === null) missing.push('capabilities');
  if (missing.length > 0) {
    throw new DriverLoadError(
      `${label} created an object that is not a driver: missing ${missing.join(', ')}`,
    );
  }
  return d as Driver;
}

/** The rate limit and retry budget of one driver account (plan keys `api_calls_per_second`, `api_retries`). */
export interface AccountPolicy {
  readonly callsPerSecond?: number;
  /** Retries after the first attempt. */
  readonly retries?: number;
}

/** Library-wide driver options with one account's plan policy on top (the plan wins). */
export function withPolicy(
  options: ManagedDriverOptions | undefined,
  policy: AccountPolicy,
): ManagedDriverOptions {
  return {
    ...options,
    ...(policy.callsPerSecond !== undefined && { callsPerSecond: policy.callsPerSecond }),
    ...(policy.retries !== undefined && {
      retry: { ...(options?.retry ?? DEFAULT_RETRY), attempts: policy.retries + 1 },
    }),
  };
}

/** The calls of one driver account: {@link CallCount} with what to call the account. */
export interface AccountCalls extends CallCount {
  /** Driver name and `iaas` (region, zone or endpoint name), e.g. `ec2 us-east-1`. */
  readonly account: string;
}

/** What a driver module gives core. */
interface LoadedDriver {
  readonly factory: DriverFactory;
  readonly credentialKeys: readonly string[];
}

/** Loads and caches drivers for a run. */
export class DriverRegistry {
  readonly #options: DriverRegistryOptions;
  readonly #modules = new Map<string, Promise<LoadedDriver>>();
  /** Per account: the managed driver, and what to call the account in messages (driver name and `iaas`). */
  readonly #drivers = new Map<string, { driver: Promise<ManagedDriver>; account: string }>();

  constructor(options: DriverRegistryOptions = {}) {
    this.#options = options;
  }

  /** The module specifier a driver name stands for, relative paths resolved against `base`. */
  static specifier(name: string, base: string): string {
    const builtin = BUILTIN_DRIVERS[name];
    if (builtin !== undefined) return builtin;
    if (isPath(name))
      return name.startsWith('file:') ? name : pathToFileURL(resolve(base, name)).href;
    return name;
  }

  /** The factory of a driver, importing its module once. */
  async factory(name: string, base: string): Promise<DriverFactory> {
    return (await this.#module(name, base)).factory;
  }

  /**
   * The credential keys a driver's module declares (none for factories
   * given directly), importing the module once.
   * @throws DriverLoadError
   */
  async credentialKeys(name: string, base: string): Promise<readonly string[]> {
    return (await this.#module(name, base)).credentialKeys;
  }

  #module(name: string, base: string): Promise<LoadedDriver> {
    const given = this.#options.factories?.[name];
    if (given !== undefined) return Promise.resolve({ factory: given, credentialKeys: [] });
    const specifier = DriverRegistry.specifier(name, base);
    let loaded = this.#modules.get(specifier);
    if (loaded === undefined) {
      loaded = this.#import(name, specifier);
      this.#modules.set(specifier, loaded);
    }
    return loaded;
  }

  async #import(name: string, specifier: string): Promise<LoadedDriver> {
    const importer = this.#options.importModule ?? ((s: string) => import(s));
    const label =
      specifier === name ? `driver module "${name}"` : `driver "${name}" (${specifier})`;
    let module: unknown;
    try {
      module = await importer(specifier);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint =
        code === 'ERR_MODULE_NOT_FOUND' && !isPath(specifier)
          ? `; install it (e.g. "pnpm add ${specifier}")`
          : '';
      throw new DriverLoadError(`cannot load ${label}: ${(error as Error).message}${hint}`, {
        cause: error,
      });
    }
    return {
      factory: driverFactoryOf(module, label),
      credentialKeys: credentialKeysOf(module, label),
    };
  }

  /**
   * The managed driver for a name, account settings and account policy: one
   * per distinct account/endpoint. Differing `api_calls_per_second` or
   * `api_retries` make separate managed drivers, each with its own limiter.
   */
  get(
    name: string,
    base: string,
    settings: DriverSettings,
    policy: AccountPolicy = {},
  ): Promise<ManagedDriver> {
    const key = JSON.stringify([
      DriverRegistry.specifier(name, base),
      Object.entries(settings).sort(),
      policy.callsPerSecond ?? null,
      policy.retries ?? null,
    ]);
    let driver = this.#drivers.get(key)?.driver;
    if (driver === undefined) {
      driver = this.factory(name, base).then((factory) => {
        let created: unknown;
        try {
          created = factory(settings);
        } catch (error) {
          throw new DriverLoadError(
            `driver "${name}" could not be created from its settings: ${(error as Error).message}`,
            { cause: error },
          );
        }
        return new ManagedDriver(
          checkDriverShape(created, `driver "${name}"`),
          withPolicy(this.#options.managed, policy),
        );
      });
      const account = settings.iaas === undefined ? name : `${name} ${settings.iaas}`;
      this.#drivers.set(key, { driver, account });
    }
    return driver;
  }

  /**
   * The calls of every account made so far, by an opaque key of the
   * account, with its label (driver name and `iaas`); accounts whose driver
   * could not be made are left out.
   */
  async callCounts(): Promise<Map<string, AccountCalls>> {
    const counts = new Map<string, AccountCalls>();
    for (const [key, { driver, account }] of this.#drivers) {
      const made = await driver.then(
        (d) => d,
        () => undefined,
      );
      if (made !== undefined) counts.set(key, { account, ...made.callCount });
    }
    return counts;
  }
}

/**
 * The accounts whose calls the cloud throttled between two
 * {@link DriverRegistry.callCounts}, with the calls made in between.
 */
export function throttledBetween(
  before: ReadonlyMap<string, AccountCalls>,
  after: ReadonlyMap<string, AccountCalls>,
): AccountCalls[] {
  const throttled: AccountCalls[] = [];
  for (const [key, now] of after) {
    const then = before.get(key);
    const counts = {
      ...now,
      calls: now.calls - (then?.calls ?? 0),
      throttled: now.throttled - (then?.throttled ?? 0),
    };
    if (counts.throttled > 0) throttled.push(counts);
  }
  return throttled;
}
