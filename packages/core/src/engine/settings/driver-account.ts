/**
 * What talking to a service's cloud needs: the driver's account keys and
 * the account's rate limit and retries. Terminating a VM, asking its state
 * and listing a run's instances need only this, so a value that only
 * mattered for booting (an image given as `env.IMAGE`, say) cannot keep a
 * VM running.
 */
import type { DriverSettings } from '../../driver/driver.js';
import type { AccountPolicy } from '../../driver/registry.js';
import { KNOWN_SERVICE_KEYS } from '../../plan/model.js';
import { driverBase } from '../../plan/service-driver.js';
import type { Attributes } from '../attributes.js';
import { ruledValue } from './resolved-value.js';

/** The account/endpoint a service's driver is created with. */
export interface DriverAccount {
  /** Directory that relative driver module specifiers are resolved against. */
  readonly driverBase: string;
  /** Account/endpoint settings (contain secrets: never log). */
  readonly driverSettings: DriverSettings;
  /** Rate limit and retries of the account; part of its identity. */
  readonly policy: AccountPolicy;
}

/** Keys that select the account/endpoint of a driver. */
const ACCOUNT_KEYS: ReadonlySet<string> = new Set(['iaas', 'iaas_url', 'iaas_key', 'iaas_secret']);

/**
 * Only what is needed to talk to a service's cloud: the account keys,
 * driver-specific keys and the account's rate limit and retries.
 * @throws TemplateError when one of those values cannot be resolved.
 */
export function driverAccount(attrs: Attributes, name: string): DriverAccount {
  const plan = attrs.service(name);
  const driverSettings: Record<string, string> = {};
  for (const k of Object.keys(plan.keys)) {
    if (ACCOUNT_KEYS.has(k) || !KNOWN_SERVICE_KEYS.has(k)) {
      const v = attrs.key(name, k);
      if (v !== undefined) driverSettings[k] = v;
    }
  }
  const callsPerSecond = ruledValue(attrs, name, 'api_calls_per_second');
  const retries = ruledValue(attrs, name, 'api_retries');
  return {
    driverBase: driverBase(plan),
    driverSettings,
    policy: {
      ...(callsPerSecond !== undefined && { callsPerSecond }),
      ...(retries !== undefined && { retries }),
    },
  };
}
