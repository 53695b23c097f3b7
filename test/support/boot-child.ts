/**
 * Boots a run in a separate process so a test can kill it at a chosen
 * moment (a crash) and then resume the run from its database.
 * argv: planFile dbDir runName
 */
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';

const [planFile, dbDir, runName] = process.argv.slice(2);
const boot = new CloudBoot({ planFile, dbDir, runName, drivers: { 'static-ip': createDriver } });
const result = await boot.run();
process.exitCode = result.ok ? 0 : 1;
