/**
 * What running one of a service's programs needs: its file here and its
 * arguments. Each program is resolved on its own: shutdown needs only the
 * terminate program, and a boot program's arguments that no longer resolve
 * must not stop it.
 */
import type { Attributes } from '../attributes.js';

/** A program the service runs: a file here, uploaded and run with raw (unsplit) args. */
export interface ProgramSetting {
  readonly path: string;
  /** The `*_args` text, split and substituted when the program runs. */
  readonly args: string;
  /** Plan key, e.g. `bootpgm`. */
  readonly key: 'bootpgm' | 'readypgm' | 'terminatepgm';
}

/**
 * One of the service's programs, resolved on its own; undefined when the
 * plan names none.
 * @throws TemplateError when its path cannot be resolved.
 */
export function programSetting(
  attrs: Attributes,
  name: string,
  key: ProgramSetting['key'],
): ProgramSetting | undefined {
  const path = attrs.key(name, key);
  // Raw: split and substituted word by word when the program runs (see `programArgs`).
  const args = attrs.rawKey(name, `${key}_args`) ?? '';
  return path === undefined ? undefined : { path, args, key };
}
