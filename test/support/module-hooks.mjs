/**
 * Module resolution hooks that append the URL of every module resolved to the
 * file named in `initialize`'s data (see record-modules.mjs).
 */
import { appendFileSync } from 'node:fs';

let file;

/** Takes the file to write to. */
export function initialize(data) {
  file = data.file;
}

/** Resolves as usual and records the result. */
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, `${result.url}\n`);
  return result;
}
