/**
 * Lists every instance the given fake clouds ever had, as each fake itself
 * sees it (`GET /_fake/state` on the fake's origin), one line per instance:
 * `CLOUD ID STATE`, ending in ` live` for an instance that still exists.
 * Scripts use it to check that nothing was left behind.
 *
 *   node --import tsx test/fakes/live-instances.ts ec2=URL openstack=URL gce=URL
 */

/** States in which a fake's instance no longer exists. */
const GONE = new Set(['terminated', 'DELETED']);

for (const arg of process.argv.slice(2)) {
  const [cloud, url] = arg.split('=', 2);
  if (cloud === undefined || url === undefined) {
    console.error(`live-instances: expected CLOUD=URL, got "${arg}"`);
    process.exit(2);
  }
  const response = await fetch(new URL('/_fake/state', url));
  if (!response.ok) {
    console.error(`live-instances: ${cloud} at ${url} answered ${response.status}`);
    process.exit(1);
  }
  const { instances } = (await response.json()) as {
    instances: Array<{ id: string; state: string }>;
  };
  for (const i of instances)
    console.log(`${cloud} ${i.id} ${i.state}${GONE.has(i.state) ? '' : ' live'}`);
}
