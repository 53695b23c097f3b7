/**
 * `@cloudboot/driver-openstack`: servers on OpenStack (Keystone v3, Nova
 * v2.1, Glance v2, Neutron), spoken to directly over `fetch`.
 *
 * Plans select it with `driver: openstack`; credentials come from
 * `os_cloud` (clouds.yaml + secure.yaml), plan keys or the `OS_*`
 * environment.
 */
import { OPENSTACK_CREDENTIAL_KEYS } from './openstack-settings.js';

export {
  createDriver,
  OPENSTACK_DRIVER_NAME,
  type OpenstackDriverOptions,
  serverName,
} from './openstack-driver.js';
export {
  OPENSTACK_KEYS,
  type OpenstackSettings,
  parseOpenstackSettings,
} from './openstack-settings.js';
export {
  OPENSTACK_NATIVE_STATES,
  OPENSTACK_STATE_MAP,
  type OpenstackNativeState,
  openstackState,
} from './openstack-states.js';

/**
 * The plan keys of this driver that hold credentials (`iaas_key`,
 * `iaas_secret`, `os_password`, application credential id and secret): core
 * redacts them in the run database, logs and output. Values the driver
 * reads from clouds.yaml, secure.yaml or the environment never leave it.
 */
export const credentialKeys: readonly string[] = OPENSTACK_CREDENTIAL_KEYS;
