/**
 * How the CLI imports driver modules. The import runs from this package so
 * that pnpm resolves the `@cloudboot/driver-*` packages the CLI depends on;
 * in-house drivers arrive as file URLs and import from anywhere.
 */
import type { ModuleImporter } from '@cloudboot/core';

/** The `importModule` the CLI passes to `CloudBoot` and `DriverRegistry`. */
export const importDriverModule: ModuleImporter = (specifier) => import(specifier);
