/**
 * Typed settings of the OpenStack driver, parsed from the plan keys it is
 * created with. Every problem is reported at once; an `os_` key the driver
 * does not know is an error naming it and listing the keys it knows, so a
 * typo cannot launch the wrong machine.
 */
import { DriverError, type DriverSettings } from '@cloudboot/core';
import { OPENSTACK_DRIVER_NAME } from './openstack-errors.js';

/** How the driver authenticates to Keystone. */
export type OpenstackAuthType = 'password' | 'v3applicationcredential';

/** Which catalog endpoints to use (Keystone's endpoint interfaces). */
export type OpenstackInterface = 'public' | 'internal' | 'admin';

/**
 * Credentials and scope given by plan keys. They take precedence over what
 * `os_cloud`'s clouds.yaml entry says; an absent field is taken from there.
 */
export interface OpenstackPlanAuth {
  /** `iaas_url`: Keystone's URL (`…/v3`; `/v3` is added when missing). */
  readonly authUrl?: string;
  readonly authType?: OpenstackAuthType;
  /** `iaas_key` or `os_username` (password authentication). */
  readonly username?: string;
  /** `iaas_secret` or `os_password`. */
  readonly password?: string;
  /** `iaas_key` or `os_application_credential_id` (application credentials). */
  readonly applicationCredentialId?: string;
  /** `iaas_secret` or `os_application_credential_secret`. */
  readonly applicationCredentialSecret?: string;
  readonly projectName?: string;
  readonly projectId?: string;
  readonly userDomainName?: string;
  readonly projectDomainName?: string;
}

/** Everything the driver reads from plan keys. */
export interface OpenstackSettings {
  /** `os_cloud`: an entry of clouds.yaml. */
  readonly cloud?: string;
  readonly auth: OpenstackPlanAuth;
  /** `iaas`: the region whose endpoints are used. */
  readonly region?: string;
  /** `os_interface`; unset means clouds.yaml's, `OS_INTERFACE`, or `public`. */
  readonly interface?: OpenstackInterface;
  /** `os_network`: network name or id for the server's port. */
  readonly network?: string;
  /** `os_floating_ip_pool`: external network to take a floating IP from. */
  readonly floatingIpPool?: string;
  /** `os_availability_zone`. */
  readonly availabilityZone?: string;
  /** `ssh_address`: which address SSH (and `hostname`) uses. */
  readonly sshAddress: 'public' | 'private';
  /** `tags`: extra metadata on every server. */
  readonly tags: Readonly<Record<string, string>>;
}

/** The `os_` keys this driver reads, with what each means (for error messages and docs). */
export const OPENSTACK_KEYS: Readonly<Record<string, string>> = {
  os_cloud: 'entry of clouds.yaml to use',
  os_auth_type: 'password (default) or v3applicationcredential',
  os_username: 'user name (like iaas_key)',
  os_password: 'password (like iaas_secret)',
  os_application_credential_id: 'application credential id (like iaas_key)',
  os_application_credential_secret: 'application credential secret (like iaas_secret)',
  os_project_name: 'project to work in',
  os_project_id: 'project to work in, by id',
  os_user_domain_name: "the user's domain",
  os_project_domain_name: "the project's domain",
  os_interface: 'catalog interface: public (default), internal or admin',
  os_network: 'network name or id',
  os_floating_ip_pool: 'external network for a floating IP',
  os_availability_zone: 'availability zone of the servers',
};

/** Plan keys that hold credentials: core redacts them in the database, logs and output. */
export const OPENSTACK_CREDENTIAL_KEYS: readonly string[] = [
  'iaas_key',
  'iaas_secret',
  'os_password',
  'os_application_credential_id',
  'os_application_credential_secret',
];

const INTERFACES: readonly OpenstackInterface[] = ['public', 'internal', 'admin'];

/** Metadata keys the driver sets itself. */
const RESERVED_TAGS = /^cloudboot-/;

function parseTags(value: string, problems: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') {
      problems.push(`tags: "${pair.trim()}" is not key=value; expected k1=v1,k2=v2`);
      continue;
    }
    if (RESERVED_TAGS.test(key)) {
      problems.push(`tags: ${key} is set by cloudboot itself; choose another key`);
      continue;
    }
    if (key.length > 255 || pair.length - eq - 1 > 255) {
      problems.push(`tags: ${key}: Nova metadata keys and values are at most 255 characters`);
      continue;
    }
    tags[key] = pair.slice(eq + 1).trim();
  }
  return tags;
}

function oneOf<T extends string>(
  key: string,
  value: string | undefined,
  allowed: readonly T[],
  problems: string[],
): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${key}: is "${value}"; expected ${allowed.join(', ')}`);
  return undefined;
}

/** The one value of two alternative keys, or a problem when both are given. */
function either(
  settings: DriverSettings,
  a: string,
  b: string,
  problems: string[],
): string | undefined {
  const first = settings[a];
  const second = settings[b];
  if (first !== undefined && second !== undefined) {
    problems.push(`${b}: ${a} is given too; give one of them`);
  }
  return first ?? second;
}

/**
 * Parses the driver's plan keys.
 * @throws DriverError `invalid-request` listing every problem, each naming its key.
 */
export function parseOpenstackSettings(settings: DriverSettings): OpenstackSettings {
  const problems: string[] = [];
  const known = Object.keys(OPENSTACK_KEYS);
  for (const key of Object.keys(settings)) {
    if (key.startsWith('os_') && !known.includes(key)) {
      problems.push(`${key}: unknown key; the openstack driver knows ${known.join(', ')}`);
    }
  }
  const authUrl = settings.iaas_url;
  if (authUrl !== undefined && !/^https?:\/\/[^/]/.test(authUrl)) {
    problems.push(
      `iaas_url: is "${authUrl}"; expected Keystone's http(s) URL, e.g. https://keystone.example.org:5000/v3`,
    );
  }
  const authTypeValue = settings.os_auth_type === 'v3password' ? 'password' : settings.os_auth_type;
  let authType = oneOf<OpenstackAuthType>(
    'os_auth_type',
    authTypeValue,
    ['password', 'v3applicationcredential'],
    problems,
  );
  const appCredKeys = ['os_application_credential_id', 'os_application_credential_secret'];
  if (appCredKeys.some((k) => settings[k] !== undefined)) {
    if (authType === 'password') {
      problems.push(
        'os_auth_type: is password, but application credential keys are given; use v3applicationcredential',
      );
    }
    authType = 'v3applicationcredential';
  }
  const passwordKeys = ['os_username', 'os_password'];
  if (authType === 'v3applicationcredential') {
    for (const k of passwordKeys) {
      if (settings[k] !== undefined) problems.push(`${k}: not used with application credentials`);
    }
  }
  const appCred = authType === 'v3applicationcredential';
  const key = appCred
    ? either(settings, 'iaas_key', 'os_application_credential_id', problems)
    : either(settings, 'iaas_key', 'os_username', problems);
  const secret = appCred
    ? either(settings, 'iaas_secret', 'os_application_credential_secret', problems)
    : either(settings, 'iaas_secret', 'os_password', problems);

  const sshAddress =
    oneOf('ssh_address', settings.ssh_address, ['public', 'private'], problems) ?? 'public';
  const iface = oneOf('os_interface', settings.os_interface, INTERFACES, problems);
  const tags = parseTags(settings.tags ?? '', problems);

  if (problems.length > 0) {
    const head =
      problems.length === 1
        ? 'the plan has a problem with OpenStack keys:'
        : `the plan has ${problems.length} problems with OpenStack keys:`;
    throw new DriverError(
      'invalid-request',
      OPENSTACK_DRIVER_NAME,
      [head, ...problems.map((p) => `  ${p}`)].join('\n'),
    );
  }

  const optional = <K extends string>(name: K, value: string | undefined) =>
    (value !== undefined ? { [name]: value } : {}) as Partial<Record<K, string>>;
  return {
    ...optional('cloud', settings.os_cloud),
    auth: {
      ...optional('authUrl', authUrl),
      ...(authType !== undefined && { authType }),
      ...(appCred
        ? {
            ...optional('applicationCredentialId', key),
            ...optional('applicationCredentialSecret', secret),
          }
        : { ...optional('username', key), ...optional('password', secret) }),
      ...optional('projectName', settings.os_project_name),
      ...optional('projectId', settings.os_project_id),
      ...optional('userDomainName', settings.os_user_domain_name),
      ...optional('projectDomainName', settings.os_project_domain_name),
    },
    ...optional('region', settings.iaas),
    ...(iface !== undefined && { interface: iface }),
    ...optional('network', settings.os_network),
    ...optional('floatingIpPool', settings.os_floating_ip_pool),
    ...optional('availabilityZone', settings.os_availability_zone),
    sshAddress,
    tags,
  };
}
