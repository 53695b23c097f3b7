/**
 * Runs the fake EC2 as a process of its own (for scripts such as the
 * multicloud example): prints one JSON line `{"url", "region",
 * "accessKeyId", "secretAccessKey"}` on stdout, then serves until SIGTERM or
 * SIGINT.
 *
 *   node --conditions=source --import tsx test/fakes/serve-ec2.ts \
 *     [--addresses 127.0.0.1,127.0.0.2] [--boot-delay-ms 200] [--port 0] \
 *     [--throttle-every N] [--rate-limit PER_SECOND/BURST] [--lose-answer-rate 0.1]
 *
 * Each option may also come from the environment: EC2_FAKE_ADDRESSES,
 * EC2_FAKE_BOOT_DELAY_MS, EC2_FAKE_PORT, EC2_FAKE_THROTTLE_EVERY,
 * EC2_FAKE_RATE_LIMIT, EC2_FAKE_LOSE_ANSWER_RATE.
 */
import { parseArgs } from 'node:util';
import { startEc2Cloud } from './ec2-cloud.js';
import { parseRateLimit } from './token-bucket.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: process.env.EC2_FAKE_ADDRESSES ?? '127.0.0.1' },
    'boot-delay-ms': { type: 'string', default: process.env.EC2_FAKE_BOOT_DELAY_MS ?? '200' },
    port: { type: 'string', default: process.env.EC2_FAKE_PORT ?? '0' },
    'throttle-every': { type: 'string', default: process.env.EC2_FAKE_THROTTLE_EVERY ?? '0' },
    'rate-limit': { type: 'string', default: process.env.EC2_FAKE_RATE_LIMIT ?? '' },
    'lose-answer-rate': { type: 'string', default: process.env.EC2_FAKE_LOSE_ANSWER_RATE ?? '0' },
  },
});

const cloud = await startEc2Cloud({
  addresses: values.addresses.split(',').filter((a) => a !== ''),
  bootDelayMs: Number(values['boot-delay-ms']),
  port: Number(values.port),
  faults: {
    throttleEvery: Number(values['throttle-every']),
    rateLimit: parseRateLimit(values['rate-limit']),
    loseAnswerRate: Number(values['lose-answer-rate']),
  },
});
process.stdout.write(
  `${JSON.stringify({ url: cloud.url, region: cloud.region, accessKeyId: cloud.accessKeyId, secretAccessKey: cloud.secretAccessKey })}\n`,
);
const stop = () => void cloud.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
