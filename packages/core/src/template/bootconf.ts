/**
 * Filling templates from a service's attribute bag, with the semantics of
 * Python's `string.Template` that cloudinit.d plans were written for, and
 * turning a filled bootconf into `bootconf.json` and `bootenv.sh`.
 */
import { TemplateError } from '../errors.js';
import type { Reference } from './references.js';
import { findReferences } from './references.js';
import { shellQuote } from './shell-words.js';

/** Returns the value of a `${svc.attr}` / `${.attr}` / `${global.x}` reference, or undefined. */
export type ReferenceResolver = (reference: Reference) => string | undefined;

/** A service's attributes by key, as seen by templates. */
export type AttributeBag = Readonly<Record<string, string>>;

/** A filled bootconf: the document and its serialized form for `bootconf.json`. */
export interface FilledBootconf {
  /** The filled JSON object. */
  readonly document: Record<string, unknown>;
  /** `document` as compact JSON text. */
  readonly json: string;
}

/** The text of `bootenv.sh` and the keys left out of it. */
export interface Bootenv {
  /** One `export KEY=VALUE` line per usable top-level key; ends with a newline. */
  readonly text: string;
  /** Keys that are not shell identifiers, or whose value holds a NUL (a shell cannot). */
  readonly skipped: readonly string[];
}

/** `$$`, `$name`, `${…}` (name or reference), or a lone `$` (invalid). */
const PLACEHOLDER = /\$(?:(\$)|([_A-Za-z][_A-Za-z0-9]*)|\{([^}]*)\}|)/g;
const NAME = /^[_A-Za-z][_A-Za-z0-9]*$/;
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where a placeholder sits, for error messages. */
interface Site {
  readonly text: string;
  readonly offset: number;
  readonly context: string;
}

/**
 * Fills `text` like Python's `string.Template.substitute`: `$$` becomes `$`,
 * `$name` and `${name}` (name: `[_A-Za-z][_A-Za-z0-9]*`) are looked up in
 * `bag`, and `${svc.attr}`, `${.attr}` and `${global.x}` are passed to
 * `resolveReference`. Substituted values are not scanned again.
 *
 * @param context Names the text in error messages, e.g. `bootconf /plan/db.json`.
 * @throws TemplateError for an unknown key, a reference without value, or a
 *   `$` that starts no valid placeholder; the message gives `context`, line
 *   and column, and the key or placeholder.
 */
export function fillTemplate(
  text: string,
  bag: AttributeBag,
  context: string,
  resolveReference: ReferenceResolver = () => undefined,
): string {
  return text.replace(
    PLACEHOLDER,
    (
      match: string,
      dollar: string | undefined,
      name: string | undefined,
      braced: string | undefined,
      offset: number,
    ): string => {
      if (dollar !== undefined) return '$';
      const site: Site = { text, offset, context };
      const key = name ?? braced;
      if (key !== undefined && NAME.test(key)) return fromBag(key, bag, site);
      const reference = braced === undefined ? undefined : asReference(match);
      if (reference !== undefined) return fromReference(reference, resolveReference, site);
      throw invalidPlaceholder(match, site);
    },
  );
}

/**
 * Fills a bootconf template and checks that it is a JSON object. A template
 * that already parses as JSON is filled string by string (keys and values) and
 * re-serialized, so no substituted value can break or add to the JSON; any
 * other template is filled as text and must parse afterwards.
 *
 * @param file Path of the template, named in error messages.
 * @throws TemplateError for an unresolvable placeholder, JSON that does not
 *   parse, a result that is not an object, or two keys that become equal.
 */
export function fillBootconf(
  templateText: string,
  bag: AttributeBag,
  resolveReference: ReferenceResolver,
  file: string,
): FilledBootconf {
  const context = `bootconf ${file}`;
  const parsed = tryParseJson(templateText);
  const filler: JsonFiller = {
    context,
    fill: (text, where) => fillTemplate(text, bag, `${context}, ${where}`, resolveReference),
  };
  const filled = parsed.ok
    ? fillObject(requireObject(parsed.value, file), '', filler)
    : parseFilledText(fillTemplate(templateText, bag, context, resolveReference), file);
  const document = requireObject(filled, file);
  return { document, json: JSON.stringify(document) };
}

/**
 * Renders `bootenv.sh`: `export KEY=VALUE` for each top-level key, quoted so
 * that sourcing the file in `/bin/sh` yields exactly the value. Strings are
 * used as they are, numbers and booleans as `String()` gives them, null as the
 * empty string, objects and arrays as JSON text.
 */
export function renderBootenv(document: Readonly<Record<string, unknown>>): Bootenv {
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(document)) {
    const text = envValue(value);
    if (SHELL_NAME.test(key) && !text.includes('\0')) {
      lines.push(`export ${key}=${shellQuote(text)}`);
    } else {
      skipped.push(key);
    }
  }
  return { text: `${lines.join('\n')}\n`, skipped };
}

/** Looks `key` up in the bag (own keys only: `$constructor` is not a key). */
function fromBag(key: string, bag: AttributeBag, site: Site): string {
  const value = Object.hasOwn(bag, key) ? bag[key] : undefined;
  if (typeof value !== 'string') throw failure(site, `unknown key "${key}"`);
  return value;
}

/** Resolves a reference or fails naming it. */
function fromReference(reference: Reference, resolve: ReferenceResolver, site: Site): string {
  const value = resolve(reference);
  if (value === undefined) throw failure(site, `${reference.text} has no value`);
  return value;
}

/** The reference `placeholder` stands for, when it is exactly one. */
function asReference(placeholder: string): Reference | undefined {
  const [reference] = findReferences(placeholder);
  return reference?.text === placeholder ? reference : undefined;
}

/** The error for a `$` that starts no valid placeholder. */
function invalidPlaceholder(match: string, site: Site): TemplateError {
  const what = match === '$' ? '"$"' : `placeholder "${match}"`;
  return failure(
    site,
    `invalid ${what}; use $name, \${name}, \${service.attr}, \${.attr} or \${global.name}, ` +
      'and "$$" for a literal "$"',
  );
}

/** A TemplateError prefixed with the context and the 1-based line and column of the site. */
function failure(site: Site, message: string): TemplateError {
  const before = site.text.slice(0, site.offset);
  const line = before.split('\n').length;
  const column = site.offset - before.lastIndexOf('\n');
  const where = `line ${line}, column ${column}`;
  return new TemplateError(
    site.context === '' ? `${where}: ${message}` : `${site.context}, ${where}: ${message}`,
  );
}

/** Fills the strings of a parsed JSON template. */
interface JsonFiller {
  /** Names the template in error messages. */
  readonly context: string;
  /** Fills one string; `where` says which key or value it is. */
  fill(text: string, where: string): string;
}

/** Fills any JSON value; `pointer` is its JSON Pointer (RFC 6901). */
function fillValue(value: unknown, pointer: string, filler: JsonFiller): unknown {
  if (typeof value === 'string') return filler.fill(value, `value at ${pointer}`);
  if (Array.isArray(value))
    return value.map((item, i) => fillValue(item, `${pointer}/${i}`, filler));
  if (isObject(value)) return fillObject(value, pointer, filler);
  return value;
}

/** Fills keys and values of an object, refusing keys that become equal. */
function fillObject(
  object: Record<string, unknown>,
  pointer: string,
  filler: JsonFiller,
): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(object)) {
    const child = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    const filledKey = filler.fill(key, `key at ${child}`);
    if (seen.has(filledKey)) {
      throw new TemplateError(
        `${filler.context}, key at ${child}: becomes "${filledKey}", a key that is already there`,
      );
    }
    seen.add(filledKey);
    entries.push([filledKey, fillValue(value, child, filler)]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a plain key.
  return Object.fromEntries(entries);
}

/** JSON.parse without throwing. */
function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Parses a template filled as text. */
function parseFilledText(text: string, file: string): unknown {
  const parsed = tryParseJson(text);
  if (parsed.ok) return parsed.value;
  throw new TemplateError(`bootconf ${file} is not valid JSON after substitution: ${parsed.error}`);
}

/** The value as a JSON object, or a TemplateError saying what it is instead. */
function requireObject(value: unknown, file: string): Record<string, unknown> {
  if (isObject(value)) return value;
  const found = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  throw new TemplateError(
    `bootconf ${file} must be a JSON object ({"key": "value", …}), not ${found}`,
  );
}

/** True for a non-null, non-array object. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The text a bootconf value has in the environment. */
function envValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
