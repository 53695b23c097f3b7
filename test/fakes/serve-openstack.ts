/**
 * Runs the fake OpenStack cloud as its own process, for scripts:
 *
 *   node --import tsx test/fakes/serve-openstack.ts [OPTIONS_JSON]
 *
 * Options (`OpenstackCloudOptions`, plus `faults`) come from the JSON
 * argument or the `CLOUDBOOT_FAKE_OPENSTACK` environment variable, e.g.
 * `{"addresses": ["127.0.0.2"], "bootDelayMs": 200, "faults": {"throttleEvery": 7}}`
 * (a rate limit: `"faults": {"rateLimit": {"perSecond": 50, "burst": 50}}`).
 * Prints one JSON line `{"url": …, "root": …}` (`url` is what `iaas_url`
 * takes) and runs until SIGTERM or SIGINT.
 */
import {
  type OpenstackCloudOptions,
  type OpenstackFaults,
  startOpenstackCloud,
} from './openstack-cloud.js';

const text = process.argv[2] ?? process.env.CLOUDBOOT_FAKE_OPENSTACK ?? '{}';
let options: OpenstackCloudOptions & { faults?: OpenstackFaults };
try {
  options = JSON.parse(text);
} catch (error) {
  process.stderr.write(`serve-openstack: the options are not JSON: ${(error as Error).message}\n`);
  process.exit(2);
}
const cloud = await startOpenstackCloud(options);
Object.assign(cloud.faults, options.faults ?? {});
process.stdout.write(`${JSON.stringify({ url: cloud.url, root: cloud.root })}\n`);
const stop = () => {
  void cloud.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
