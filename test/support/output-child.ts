/**
 * Boots a plan in a process of its own and prints, as JSON, how it went and
 * the peak resident memory of this process (KiB), so a test can measure
 * what a program's output costs cloudboot.
 * argv: planFile dbDir runName
 */
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';

const [planFile, dbDir, runName] = process.argv.slice(2);
const boot = new CloudBoot({ planFile, dbDir, runName, drivers: { 'static-ip': createDriver } });
const result = await boot.run();
boot.close();
process.stdout.write(
  JSON.stringify({
    maxRssKiB: process.resourceUsage().maxRSS,
    failures: result.failures.map((f) => ({ message: f.message, stderrTail: f.stderrTail })),
  }),
);
