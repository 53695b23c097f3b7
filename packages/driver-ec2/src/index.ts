/**
 * `@cloudboot/driver-ec2`: launches, describes and terminates Amazon EC2
 * (and EC2-compatible) instances with the AWS SDK v3. Select it in a plan
 * with `driver: ec2` (the default when a service has an image).
 */
export { createDriver } from './ec2-driver.js';
export { EC2_DRIVER_NAME, ec2Error } from './ec2-errors.js';
export {
  EC2_AWS_KEYS,
  EC2_CREDENTIAL_KEYS,
  type Ec2AccountSettings,
  type Ec2LaunchSettings,
  type Ec2Settings,
  Ec2SettingsError,
  parseAccountSettings,
  parseLaunchSettings,
  type SshAddress,
} from './ec2-settings.js';
export { EC2_NATIVE_STATES, EC2_STATE_MAP, type Ec2NativeState, ec2State } from './ec2-states.js';

import { EC2_CREDENTIAL_KEYS } from './ec2-settings.js';

/** Plan keys of this driver that are credentials, for core to redact everywhere. */
export const credentialKeys: readonly string[] = EC2_CREDENTIAL_KEYS;
