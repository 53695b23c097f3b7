/**
 * `@cloudboot/driver-gce`: Google Compute Engine instances for cloudboot,
 * through `@google-cloud/compute`. Plans select it with `driver: gce`; the
 * zone is `iaas`, the machine type `allocation`, the image `image`.
 */
export { createDriver, GCE_DRIVER_NAME } from './gce-driver.js';
export {
  DEFAULT_SCOPES,
  GCE_KEYS,
  type GceCredentials,
  type GceDriverOptions,
  type GceEndpoint,
  parseGceSettings,
} from './gce-settings.js';
export { GCE_STATE_MAP, GCE_STATUSES, type GceStatus } from './gce-states.js';

/**
 * Plan keys of this driver that are credentials, so core can keep them out
 * of the run database, logs, `-o` and `--json`: the access token, and
 * `gce_credentials` (usually a key file's path, which is harmless, but it
 * may also hold the key file's JSON contents, which are a secret).
 */
export const credentialKeys: readonly string[] = ['gce_access_token', 'gce_credentials'];
