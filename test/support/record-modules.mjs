/**
 * `node --import record-modules.mjs …` records every module the process
 * resolves, one URL a line, in the file `$CLOUDBOOT_TEST_MODULES` names.
 */
import { register } from 'node:module';

register('./module-hooks.mjs', import.meta.url, {
  data: { file: process.env.CLOUDBOOT_TEST_MODULES },
});
