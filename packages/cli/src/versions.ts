/** The versions `cloudboot --version` prints, read from the packages' own package.json files. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Versions of the `cloudboot` package and of `@cloudboot/core` as installed. */
export function versions(): { readonly cli: string; readonly core: string } {
  // From src/ and from dist/ alike, the package root is one directory up.
  const cli = require('../package.json') as { version: string };
  const core = require('@cloudboot/core/package.json') as { version: string };
  return { cli: cli.version, core: core.version };
}
