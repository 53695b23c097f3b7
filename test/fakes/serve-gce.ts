/**
 * Runs the fake Compute Engine as its own process (for scripts that start
 * several fake clouds): prints one JSON line `{"url": …}` on stdout, then
 * serves until SIGTERM or SIGINT.
 *
 * Options (argv `--name value`, else the environment):
 *   --addresses 127.0.0.2,127.0.0.3   (FAKE_GCE_ADDRESSES) instance addresses
 *   --boot-delay-ms 50                (FAKE_GCE_BOOT_DELAY_MS)
 *   --terminated-visible-ms 100       (FAKE_GCE_TERMINATED_VISIBLE_MS)
 *   --authorized-keys FILE            (FAKE_GCE_AUTHORIZED_KEYS) ssh-keys metadata is appended here
 *   --throttle-every N                (FAKE_GCE_THROTTLE_EVERY) every Nth call answers rateLimitExceeded
 *   --rate-limit PER_SECOND/BURST     (FAKE_GCE_RATE_LIMIT) the project's call rate limit, a token bucket
 *
 * Example: node --import tsx test/fakes/serve-gce.ts --addresses 127.0.0.2
 */
import { parseArgs } from 'node:util';
import { startGceCloud } from './gce-cloud.js';
import { parseRateLimit } from './token-bucket.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string' },
    'boot-delay-ms': { type: 'string' },
    'terminated-visible-ms': { type: 'string' },
    'authorized-keys': { type: 'string' },
    'throttle-every': { type: 'string' },
    'rate-limit': { type: 'string' },
  },
});
const env = process.env;
const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
const addresses = (values.addresses ?? env.FAKE_GCE_ADDRESSES)?.split(',').filter((a) => a !== '');
const bootDelayMs = number(values['boot-delay-ms'] ?? env.FAKE_GCE_BOOT_DELAY_MS);
const terminatedVisibleMs = number(
  values['terminated-visible-ms'] ?? env.FAKE_GCE_TERMINATED_VISIBLE_MS,
);
const authorizedKeysFile = values['authorized-keys'] ?? env.FAKE_GCE_AUTHORIZED_KEYS;
const throttleEvery = number(values['throttle-every'] ?? env.FAKE_GCE_THROTTLE_EVERY);

const fake = await startGceCloud({
  ...(addresses !== undefined && { addresses }),
  ...(bootDelayMs !== undefined && { bootDelayMs }),
  ...(terminatedVisibleMs !== undefined && { terminatedVisibleMs }),
  ...(authorizedKeysFile !== undefined && { authorizedKeysFile }),
});
if (throttleEvery !== undefined) fake.faults.throttleEvery = throttleEvery;
const rateLimit = parseRateLimit(values['rate-limit'] ?? env.FAKE_GCE_RATE_LIMIT);
if (rateLimit !== undefined) fake.faults.rateLimit = rateLimit;
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
const stop = () => {
  void fake.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
