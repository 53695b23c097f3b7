/**
 * Starts sshd test machines from a shell script (the multicloud example uses
 * it): `node --import tsx test/harness/serve-sshd.ts COUNT` starts COUNT
 * machines on loopback addresses, all on one port, prints one JSON line
 * `{"addresses": […], "port": N, "username": …, "keyPath": …}` and runs until
 * SIGTERM or SIGINT, then stops them and removes their files.
 */
import { startSshHosts } from './sshd.js';

const count = Number(process.argv[2] ?? '3');
if (!Number.isInteger(count) || count < 1) {
  console.error(`serve-sshd: expected a number of machines, got "${process.argv[2]}"`);
  process.exit(2);
}
const hosts = await startSshHosts({ count, samePort: true });
console.log(
  JSON.stringify({
    addresses: hosts.hosts.map((h) => h.address),
    port: hosts.hosts[0]?.port,
    username: hosts.username,
    keyPath: hosts.clientKeyPath,
  }),
);
const stop = async () => {
  await hosts.stop();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
