/**
 * The tags cloudboot puts on every instance it launches, so that a launch
 * whose answer was lost can be found again and an instance can be traced to
 * its run and service from the cloud's console.
 */

/** The tags of the instance a launch makes: `cloudboot-run`, `cloudboot-service` and `cloudboot-token`. */
export interface LaunchTags extends Readonly<Record<string, string>> {
  readonly 'cloudboot-run': string;
  readonly 'cloudboot-service': string;
  readonly 'cloudboot-token': string;
}

/**
 * The tags of the launch of `service` in run `run` with idempotency token
 * `token`; the same object finds that launch's instance with `findByTags`.
 * @example
 * launchTags('webapp-185519', 'web', token) // { 'cloudboot-run': 'webapp-185519', … }
 */
export function launchTags(run: string, service: string, token: string): LaunchTags {
  return { 'cloudboot-run': run, 'cloudboot-service': service, 'cloudboot-token': token };
}
