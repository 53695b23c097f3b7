/**
 * Where the driver's Keystone credentials come from, in order:
 * 1. `os_cloud`: an entry of clouds.yaml (the first of `./clouds.yaml`,
 *    `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`, or
 *    `OS_CLIENT_CONFIG_FILE`), with the same entry of secure.yaml (searched
 *    in the same places) merged over it, as the OpenStack CLI does;
 * 2. else credentials given by plan keys (`iaas_key`/`iaas_secret` …);
 * 3. else `OS_CLOUD` (a clouds.yaml entry, as 1.);
 * 4. else the `OS_*` environment variables.
 * Plan keys override single fields of 1, 3 and 4 (a region given by `iaas`
 * wins over the entry's `region_name`, for example).
 *
 * The result holds secrets read from files and the environment. It is only
 * ever kept inside the Keystone session (`openstack-auth.ts`); nothing here
 * is returned to core or written anywhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { driverError } from './openstack-errors.js';
import type {
  OpenstackAuthType,
  OpenstackInterface,
  OpenstackPlanAuth,
  OpenstackSettings,
} from './openstack-settings.js';

/** Where configuration is looked for; the process's own by default. */
export interface ConfigPlaces {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory searched first for clouds.yaml/secure.yaml. */
  readonly cwd: string;
  /** Home directory (`~/.config/openstack`). */
  readonly home: string;
  /** System directory, `/etc/openstack`. */
  readonly systemDir: string;
}

/** Resolved credentials and scope for Keystone (contains secrets). */
export interface AuthConfig {
  readonly authUrl: string;
  readonly authType: OpenstackAuthType;
  readonly username?: string;
  readonly userId?: string;
  readonly password?: string;
  readonly applicationCredentialId?: string;
  readonly applicationCredentialName?: string;
  readonly applicationCredentialSecret?: string;
  readonly userDomainName?: string;
  readonly userDomainId?: string;
  readonly projectName?: string;
  readonly projectId?: string;
  readonly projectDomainName?: string;
  readonly projectDomainId?: string;
  readonly region?: string;
  readonly interface: OpenstackInterface;
  /** Where the credentials came from, for messages (never a secret). */
  readonly source: string;
}

type Fields = { -readonly [K in keyof AuthConfig]?: string };

/** clouds.yaml `auth` keys (and OS_* variables) -> fields. */
const AUTH_FIELDS: ReadonlyArray<readonly [string, keyof Fields]> = [
  ['auth_url', 'authUrl'],
  ['username', 'username'],
  ['user_id', 'userId'],
  ['password', 'password'],
  ['application_credential_id', 'applicationCredentialId'],
  ['application_credential_name', 'applicationCredentialName'],
  ['application_credential_secret', 'applicationCredentialSecret'],
  ['user_domain_name', 'userDomainName'],
  ['user_domain_id', 'userDomainId'],
  ['project_name', 'projectName'],
  ['project_id', 'projectId'],
  ['project_domain_name', 'projectDomainName'],
  ['project_domain_id', 'projectDomainId'],
  ['tenant_name', 'projectName'],
  ['tenant_id', 'projectId'],
];

function configDirs(places: ConfigPlaces): string[] {
  return [places.cwd, join(places.home, '.config', 'openstack'), places.systemDir];
}

function firstFile(places: ConfigPlaces, name: string, override?: string): string | undefined {
  if (override !== undefined && override !== '') return override;
  return configDirs(places)
    .map((dir) => join(dir, name))
    .find((file) => existsSync(file));
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw driverError('auth', 'Keystone', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = parseYaml(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch (error) {
    const line = (error as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line;
    const reason = (error as Error).message.split('\n')[0];
    throw driverError(
      'auth',
      'Keystone',
      `${file}${line !== undefined ? `:${line}` : ''} is not valid YAML: ${reason}`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `over` merged into `base`, objects recursively (how secure.yaml completes clouds.yaml). */
function merge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

/** The fields of clouds.yaml entry `name`, with secure.yaml merged. */
function cloudEntry(name: string, places: ConfigPlaces): { fields: Fields; source: string } {
  const cloudsFile = firstFile(places, 'clouds.yaml', places.env.OS_CLIENT_CONFIG_FILE);
  if (cloudsFile === undefined) {
    throw driverError(
      'auth',
      'Keystone',
      `os_cloud is "${name}" but there is no clouds.yaml in ${configDirs(places).join(', ')}`,
    );
  }
  const clouds = readYaml(cloudsFile).clouds;
  const entry = isObject(clouds) ? clouds[name] : undefined;
  if (!isObject(entry)) {
    const names = isObject(clouds) ? Object.keys(clouds) : [];
    throw driverError(
      'auth',
      'Keystone',
      `${cloudsFile} has no cloud "${name}" (it has ${names.length > 0 ? names.join(', ') : 'none'})`,
    );
  }
  let merged = entry;
  const secureFile = firstFile(places, 'secure.yaml', places.env.OS_CLIENT_SECURE_FILE);
  if (secureFile !== undefined) {
    const secureClouds = readYaml(secureFile).clouds;
    const secure = isObject(secureClouds) ? secureClouds[name] : undefined;
    if (isObject(secure)) merged = merge(entry, secure);
  }
  const auth = isObject(merged.auth) ? merged.auth : {};
  const fields: Fields = {};
  for (const [yamlKey, field] of AUTH_FIELDS) {
    const value = auth[yamlKey];
    if ((typeof value === 'string' || typeof value === 'number') && fields[field] === undefined) {
      fields[field] = String(value);
    }
  }
  if (typeof merged.auth_type === 'string') fields.authType = merged.auth_type;
  if (typeof merged.region_name === 'string') fields.region = merged.region_name;
  if (typeof merged.interface === 'string') fields.interface = merged.interface;
  const source =
    secureFile !== undefined
      ? `cloud "${name}" of ${cloudsFile} and ${secureFile}`
      : `cloud "${name}" of ${cloudsFile}`;
  return { fields, source };
}

/** The fields the `OS_*` environment gives. */
function environmentFields(env: ConfigPlaces['env']): Fields {
  const fields: Fields = {};
  for (const [yamlKey, field] of AUTH_FIELDS) {
    const value = env[`OS_${yamlKey.toUpperCase()}`];
    if (value !== undefined && value !== '' && fields[field] === undefined) fields[field] = value;
  }
  const extra: ReadonlyArray<readonly [string, keyof Fields]> = [
    ['OS_AUTH_TYPE', 'authType'],
    ['OS_REGION_NAME', 'region'],
    ['OS_INTERFACE', 'interface'],
  ];
  for (const [name, field] of extra) {
    const value = env[name];
    if (value !== undefined && value !== '') fields[field] = value;
  }
  return fields;
}

function planFields(auth: OpenstackPlanAuth): Fields {
  const fields: Fields = {};
  for (const [k, v] of Object.entries(auth)) if (v !== undefined) fields[k as keyof Fields] = v;
  return fields;
}

function hasPlanCredentials(auth: OpenstackPlanAuth): boolean {
  return auth.username !== undefined || auth.applicationCredentialId !== undefined;
}

function authTypeOf(value: string | undefined, fields: Fields, source: string): OpenstackAuthType {
  const type =
    value ??
    (fields.applicationCredentialId !== undefined ? 'v3applicationcredential' : 'password');
  if (type === 'password' || type === 'v3password') return 'password';
  if (type === 'v3applicationcredential') return 'v3applicationcredential';
  throw driverError(
    'auth',
    'Keystone',
    `${source} asks for auth type "${type}"; the openstack driver supports password and v3applicationcredential`,
  );
}

/**
 * Resolves the credentials, scope, region and interface to use.
 * @throws DriverError `auth` when a file is missing or broken, the cloud
 *   entry does not exist, or no credentials are found anywhere.
 */
export function resolveAuthConfig(settings: OpenstackSettings, places: ConfigPlaces): AuthConfig {
  const plan = planFields(settings.auth);
  let base: Fields;
  let source: string;
  const envCloud = places.env.OS_CLOUD;
  if (settings.cloud !== undefined) {
    ({ fields: base, source } = cloudEntry(settings.cloud, places));
  } else if (hasPlanCredentials(settings.auth)) {
    base = {};
    source = 'the plan keys';
  } else if (envCloud !== undefined && envCloud !== '') {
    ({ fields: base, source } = cloudEntry(envCloud, places));
    source = `${source} (OS_CLOUD)`;
  } else {
    base = environmentFields(places.env);
    source = 'the OS_* environment variables';
  }
  // A region or interface given by plan keys wins.
  const fields: Fields = { ...base, ...plan };
  if (settings.region !== undefined) fields.region = settings.region;
  if (settings.interface !== undefined) fields.interface = settings.interface;

  const authType = authTypeOf(fields.authType, fields, source);
  const missing: string[] = [];
  if (fields.authUrl === undefined)
    missing.push('the Keystone URL (iaas_url, auth_url, OS_AUTH_URL)');
  if (authType === 'password') {
    if (fields.username === undefined && fields.userId === undefined)
      missing.push('a user name (iaas_key, username, OS_USERNAME)');
    if (fields.password === undefined)
      missing.push('a password (iaas_secret, password, OS_PASSWORD)');
  } else {
    if (
      fields.applicationCredentialId === undefined &&
      fields.applicationCredentialName === undefined
    )
      missing.push('an application credential id (iaas_key, application_credential_id)');
    if (fields.applicationCredentialSecret === undefined)
      missing.push('an application credential secret (iaas_secret, application_credential_secret)');
  }
  if (missing.length > 0) {
    throw driverError(
      'auth',
      'Keystone',
      `no usable credentials: ${source} lack ${missing.join(' and ')}; set os_cloud to an entry of clouds.yaml, or iaas_url, iaas_key and iaas_secret`,
    );
  }
  const iface = fields.interface?.replace(/URL$/, '') ?? 'public';
  if (iface !== 'public' && iface !== 'internal' && iface !== 'admin') {
    throw driverError(
      'auth',
      'Keystone',
      `${source} asks for interface "${iface}"; expected public, internal or admin`,
    );
  }
  const { authType: _type, interface: _iface, ...rest } = fields;
  return {
    ...(rest as Omit<AuthConfig, 'authType' | 'interface' | 'source' | 'authUrl'>),
    authUrl: fields.authUrl as string,
    authType,
    interface: iface,
    source,
  };
}
