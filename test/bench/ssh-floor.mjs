/**
 * The least one command of a Node SSH tool can take: start Node, load
 * ssh2 (the SSH library cloudboot uses), connect to the machines given, all
 * at once, run `true` on each, and exit. No state, no files, no plan.
 * `pnpm bench:ansible` times it with one machine (what `boot` must do before
 * its first program can start) and with every machine (what `terminate`
 * must do before its removals are done) and reports the sum as the floor of
 * cloudboot's `boot` + `terminate`.
 *
 * Plain JavaScript, run by `node` without a TypeScript loader, so that it
 * pays Node's start-up and nothing more.
 *
 *   node test/bench/ssh-floor.mjs KEY_FILE USER HOST:PORT [HOST:PORT …]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [keyFile, username, ...machines] = process.argv.slice(2);
if (keyFile === undefined || username === undefined || machines.length === 0) {
  console.error('usage: ssh-floor.mjs KEY_FILE USER HOST:PORT [HOST:PORT …]');
  process.exit(2);
}
// ssh2 is a dependency of the core package, not of the repository's root.
const { Client } = createRequire(new URL('../../packages/core/package.json', import.meta.url))(
  'ssh2',
);
const privateKey = readFileSync(keyFile);

/** Connects, runs `true`, disconnects; rejects on any failure. */
function touch(machine) {
  const [host, port] = machine.split(':');
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.on('error', reject);
    client.on('ready', () =>
      client.exec('true', (error, channel) => {
        if (error) return reject(error);
        let status;
        channel.on('exit', (code) => {
          status = code;
        });
        channel.on('close', () => {
          client.end();
          status === 0 ? resolve() : reject(new Error(`true exited ${status} on ${machine}`));
        });
        channel.resume();
      }),
    );
    client.connect({ host, port: Number(port), username, privateKey, hostVerifier: () => true });
  });
}

try {
  await Promise.all(machines.map(touch));
} catch (error) {
  console.error(`ssh-floor: ${error.message}`);
  process.exit(1);
}
