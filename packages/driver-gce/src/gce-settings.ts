/**
 * Typed settings of the gce driver, parsed from a service's plan keys. Every
 * problem is reported at once, and a `gce_` key the driver does not know is
 * an error (a typo must not launch the wrong machine).
 */
import { DriverError, type DriverSettings } from '@cloudboot/core';
import { GCE } from './gce-errors.js';

/** Every `gce_` key the driver reads. */
export const GCE_KEYS = [
  'gce_project',
  'gce_credentials',
  'gce_access_token',
  'gce_network',
  'gce_subnetwork',
  'gce_preemptible',
  'gce_spot',
  'gce_service_account',
  'gce_scopes',
] as const;

/** Scope given to a service account when `gce_scopes` is not set. */
export const DEFAULT_SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

/** Where requests go when `iaas_url` is set. */
export interface GceEndpoint {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
}

/** How the driver authenticates. */
export type GceCredentials =
  | { readonly kind: 'access-token'; readonly token: string }
  /** A key file's path, or its JSON contents (`{…}`). */
  | { readonly kind: 'key-file'; readonly source: string }
  | { readonly kind: 'application-default' };

/** The gce driver's settings. */
export interface GceDriverOptions {
  /** Zone (`iaas`), e.g. `us-central1-a`. */
  readonly zone: string;
  /** `gce_project`; when unset, the key file's `project_id`, else {@link defaultProject}. */
  readonly project?: string;
  /** `GOOGLE_CLOUD_PROJECT`, the last resort. */
  readonly defaultProject?: string;
  readonly credentials: GceCredentials;
  readonly endpoint?: GceEndpoint;
  readonly network?: string;
  readonly subnetwork?: string;
  readonly provisioning: 'standard' | 'spot' | 'preemptible';
  readonly diskSizeGb?: number;
  readonly serviceAccount?: string;
  readonly scopes: readonly string[];
  /** Extra labels from `tags` (raw: sanitised when launching). */
  readonly tags: Readonly<Record<string, string>>;
  /** Which address SSH uses; `public` also asks for an external IP. */
  readonly sshAddress: 'public' | 'private';
}

const ZONE = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;
const BOOLEAN: Readonly<Record<string, boolean>> = {
  true: true,
  yes: true,
  on: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  '0': false,
};

function parseEndpoint(raw: string, problems: string[]): GceEndpoint | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`iaas_url is "${raw}"; expected a URL such as http://127.0.0.1:5056`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`iaas_url is "${raw}"; expected an http:// or https:// URL`);
    return undefined;
  }
  if (url.pathname !== '/' || url.search !== '') {
    problems.push(
      `iaas_url is "${raw}"; expected the root URL of the endpoint (requests go to /compute/v1/… under it), without a path`,
    );
    return undefined;
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
    protocol,
  };
}

/** `k1=v1,k2=v2` -> labels; a `cloudboot-` key is refused (cloudboot sets those). */
function parseTags(raw: string, problems: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim())) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    if (eq < 0 || key === '') {
      problems.push(`tags has "${pair}"; expected key=value pairs separated by commas`);
    } else if (key.toLowerCase().startsWith('cloudboot-')) {
      problems.push(`tags has "${key}"; cloudboot- labels are set by cloudboot itself`);
    } else {
      tags[key] = pair.slice(eq + 1).trim();
    }
  }
  return tags;
}

/**
 * Parses the driver's settings (the service's account and driver keys).
 * @throws DriverError (`invalid-request`) listing every problem, e.g. an
 * unknown `gce_` key together with the keys the driver knows.
 */
export function parseGceSettings(
  settings: DriverSettings,
  env: NodeJS.ProcessEnv = process.env,
): GceDriverOptions {
  const problems: string[] = [];
  const get = (key: string) => {
    const value = settings[key]?.trim();
    return value === '' ? undefined : value;
  };
  for (const key of Object.keys(settings).sort()) {
    if (key.startsWith('gce_') && !(GCE_KEYS as readonly string[]).includes(key)) {
      problems.push(
        `${key} is not a key of the gce driver; it knows ${GCE_KEYS.join(', ')} (and iaas, iaas_url, tags, ssh_address, disk_size_gb)`,
      );
    }
  }
  const bool = (key: string): boolean | undefined => {
    const raw = get(key);
    if (raw === undefined) return undefined;
    const value = BOOLEAN[raw.toLowerCase()];
    if (value === undefined) problems.push(`${key} is "${raw}"; expected true or false`);
    return value;
  };

  const zone = get('iaas');
  if (zone === undefined) {
    problems.push('iaas is not set; expected the GCE zone to launch in, such as us-central1-a');
  } else if (!ZONE.test(zone)) {
    problems.push(`iaas is "${zone}"; expected a GCE zone such as us-central1-a`);
  }
  const rawUrl = get('iaas_url');
  const endpoint = rawUrl === undefined ? undefined : parseEndpoint(rawUrl, problems);

  const token = get('gce_access_token');
  const keyFile = get('gce_credentials');
  if (token !== undefined && keyFile !== undefined) {
    problems.push('gce_access_token and gce_credentials are both set; expected at most one');
  }
  const credentials: GceCredentials =
    token !== undefined
      ? { kind: 'access-token', token }
      : keyFile !== undefined
        ? { kind: 'key-file', source: keyFile }
        : { kind: 'application-default' };
  const project = get('gce_project');
  const defaultProject = env.GOOGLE_CLOUD_PROJECT?.trim() || undefined;
  if (project === undefined && keyFile === undefined && defaultProject === undefined) {
    problems.push(
      'gce_project is not set (nor GOOGLE_CLOUD_PROJECT); expected the project to launch in',
    );
  } else if (project !== undefined && !/^[a-z][-a-z0-9.:]{4,62}[a-z0-9]$/.test(project)) {
    problems.push(`gce_project is "${project}"; expected a project id such as my-project-123`);
  }

  const spot = bool('gce_spot');
  const preemptible = bool('gce_preemptible');
  if (spot === true && preemptible === true) {
    problems.push('gce_spot and gce_preemptible are both true; expected at most one');
  }
  const rawDisk = get('disk_size_gb');
  let diskSizeGb: number | undefined;
  if (rawDisk !== undefined) {
    diskSizeGb = Number(rawDisk);
    if (!Number.isInteger(diskSizeGb) || diskSizeGb < 10 || diskSizeGb > 65_536) {
      problems.push(`disk_size_gb is "${rawDisk}"; expected a whole number of GB from 10 to 65536`);
    }
  }
  const sshAddress = (get('ssh_address') ?? 'public').toLowerCase();
  if (sshAddress !== 'public' && sshAddress !== 'private') {
    problems.push(`ssh_address is "${get('ssh_address')}"; expected public or private`);
  }
  const rawScopes = get('gce_scopes');
  const scopes =
    rawScopes === undefined
      ? DEFAULT_SCOPES
      : rawScopes
          .split(/[,\s]+/)
          .filter((s) => s !== '')
          .map((s) => (s.includes('/') ? s : `https://www.googleapis.com/auth/${s}`));
  const serviceAccount = get('gce_service_account');
  if (rawScopes !== undefined && serviceAccount === undefined) {
    problems.push('gce_scopes is set but gce_service_account is not; expected both or neither');
  }
  const tags = parseTags(get('tags') ?? '', problems);

  if (problems.length > 0) {
    const head =
      problems.length === 1
        ? 'the gce settings have a problem:'
        : `the gce settings have ${problems.length} problems:`;
    throw new DriverError(
      'invalid-request',
      GCE,
      [head, ...problems.map((p) => `  ${p}`)].join('\n'),
    );
  }
  const network = get('gce_network');
  const subnetwork = get('gce_subnetwork');
  return Object.freeze({
    zone: zone ?? '',
    ...(project !== undefined && { project }),
    ...(defaultProject !== undefined && { defaultProject }),
    credentials,
    ...(endpoint !== undefined && { endpoint }),
    ...(network !== undefined && { network }),
    ...(subnetwork !== undefined && { subnetwork }),
    provisioning: spot === true ? 'spot' : preemptible === true ? 'preemptible' : 'standard',
    ...(diskSizeGb !== undefined && { diskSizeGb }),
    ...(serviceAccount !== undefined && { serviceAccount }),
    scopes,
    tags,
    sshAddress: sshAddress === 'private' ? 'private' : 'public',
  });
}
