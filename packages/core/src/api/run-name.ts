import { randomBytes } from 'node:crypto';
import { basename, extname } from 'node:path';
import { UsageError } from '../errors.js';

const VALID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Checks that a run name is usable as part of a file name. */
export function checkRunName(name: string): string {
  if (!VALID.test(name)) {
    throw new UsageError(
      `run name "${name}" is not valid: use letters, digits, ".", "_" and "-" (at most 100), starting with a letter or digit`,
    );
  }
  return name;
}

/** A fresh run name: the plan file's stem and 6 random hex digits, e.g. `top-3f9a2c`. */
export function newRunName(planFile: string): string {
  const stem = basename(planFile, extname(planFile))
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 40);
  return `${stem || 'run'}-${randomBytes(3).toString('hex')}`;
}
