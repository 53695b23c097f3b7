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

/** A filled bootconf: the text of `bootconf.json` and the object it holds. */
export interface FilledBootconf {
  /** The filled JSON object. */
  readonly document: Record<string, unknown>;
  /** The template's text with its placeholders filled: what `bootconf.json` holds. */
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
  return text.replace(PLACEHOLDER, (match: string, ...rest: unknown[]): string =>
    placeholderValue(match, bag, { text, offset: rest[3] as number, context }, resolveReference),
  );
}

/**
 * Fills a bootconf template the way cloudinit.d did: the template's text is
 * kept byte for byte and each placeholder is replaced in place, so a boot
 * program that reads `bootconf.json` as text (`grep '"name": "orders"'`)
 * finds what the template says. A placeholder inside a JSON string literal
 * (a key or a value) is filled with its value escaped for JSON, so no value
 * can end the string or add keys; one outside a string (`"port": $port`) is
 * inserted as it is and must be one JSON value, so it cannot add keys either.
 *
 * @param file Path of the template, named in error messages.
 * @throws TemplateError for an unresolvable placeholder, a placeholder outside
 *   a string whose value is not one JSON value, a result that is not valid
 *   JSON or not a JSON object, or a key that occurs twice in one object.
 */
export function fillBootconf(
  templateText: string,
  bag: AttributeBag,
  resolveReference: ReferenceResolver,
  file: string,
): FilledBootconf {
  const context = `bootconf ${file}`;
  const json = scanTemplate(templateText)
    .map((part) => {
      if (typeof part === 'string') return part;
      const site: Site = { text: templateText, offset: part.offset, context };
      const value = placeholderValue(part.match, bag, site, resolveReference);
      if (part.inString) return JSON.stringify(value).slice(1, -1);
      // The value is not shown: it may come from the environment or another machine.
      if (part.match !== '$$' && !tryParseJson(value).ok) {
        throw failure(
          site,
          `${part.match} is outside a JSON string, so its value must be one JSON value (a number, true, false, null, a "quoted string", an array or an object), and it is not; write "${part.match}" to insert it as a string`,
        );
      }
      return value;
    })
    .join('');
  const parsed = tryParseJson(json);
  if (!parsed.ok) {
    throw new TemplateError(`${context} is not valid JSON after substitution: ${parsed.error}`);
  }
  const document = requireObject(parsed.value, file);
  const duplicate = duplicateKey(json);
  if (duplicate !== undefined) {
    throw new TemplateError(
      `${context}: key ${JSON.stringify(duplicate)} appears twice in one object after substitution; expected each key once`,
    );
  }
  return { document, json };
}

/**
 * Checks a bootconf template before anything runs: its placeholders are
 * well formed, and it is a JSON object once each placeholder outside a string
 * stands for one JSON value. Values themselves are only known at run time.
 *
 * @param context Names the template in the sentence, e.g. `template /plan/db.json`.
 * @returns What is wrong, as one sentence starting with `context`, or
 *   undefined when the template is usable.
 */
export function bootconfTemplateProblem(templateText: string, context: string): string | undefined {
  // Each placeholder becomes a stand-in of its own length, so positions stay those of the template.
  const probe: string[] = [];
  for (const part of scanTemplate(templateText)) {
    if (typeof part === 'string') probe.push(part);
    else if (!isPlaceholder(part.match)) {
      return invalidPlaceholder(part.match, { text: templateText, offset: part.offset, context })
        .message;
    } else if (part.inString) probe.push('x'.repeat(part.match.length));
    else probe.push(part.match === '$$' ? '$$' : '0'.padEnd(part.match.length));
  }
  const parsed = tryParseJson(probe.join(''));
  if (!parsed.ok) {
    return `${context} is not valid JSON whatever its placeholders hold (${jsonErrorAt(parsed.error, templateText)}); expected a JSON object in which a placeholder outside a string stands for one whole JSON value`;
  }
  if (!isObject(parsed.value)) {
    return `${context} is ${kindOf(parsed.value)}; expected a JSON object ({"key": "value", …})`;
  }
  return undefined;
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

/** A placeholder of a bootconf template, and whether it sits inside a JSON string literal. */
interface TemplatePlaceholder {
  /** The placeholder as written: `$$`, `$name`, `${…}`, or a lone `$`. */
  readonly match: string;
  /** Offset of its `$` in the template. */
  readonly offset: number;
  readonly inString: boolean;
}

/** {@link PLACEHOLDER}, matching only where `lastIndex` points. */
const PLACEHOLDER_AT = new RegExp(PLACEHOLDER.source, 'y');

/**
 * Splits a bootconf template into literal text and placeholders, following
 * JSON string literals (`"…"` with backslash escapes) to tell which
 * placeholders sit inside one. Joining the parts gives the template back.
 */
function scanTemplate(text: string): (string | TemplatePlaceholder)[] {
  const parts: (string | TemplatePlaceholder)[] = [];
  let inString = false;
  let literalStart = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '$') {
      PLACEHOLDER_AT.lastIndex = i;
      // The pattern's last alternative is empty, so it matches at least the "$".
      const match = PLACEHOLDER_AT.exec(text)?.[0] ?? '$';
      parts.push(text.slice(literalStart, i), { match, offset: i, inString });
      i += match.length;
      literalStart = i;
      continue;
    }
    if (c === '"') inString = !inString;
    // An escaped character cannot end the string; `\$` still starts a placeholder, as in Python.
    else if (c === '\\' && inString && text[i + 1] !== '$') i += 1;
    i += 1;
  }
  parts.push(text.slice(literalStart));
  return parts.filter((part) => part !== '');
}

/** The key of `$name` / `${name}`, or the inside of any other `${…}`; empty for a lone `$`. */
function placeholderKey(match: string): string {
  return match.startsWith('${') ? match.slice(2, -1) : match.slice(1);
}

/** True when `match` is a placeholder {@link placeholderValue} can fill (given the values). */
function isPlaceholder(match: string): boolean {
  return (
    match === '$$' ||
    NAME.test(placeholderKey(match)) ||
    (match.startsWith('${') && asReference(match) !== undefined)
  );
}

/** The value of one placeholder: `$$` is `$`, names come from the bag, references from the resolver. */
function placeholderValue(
  match: string,
  bag: AttributeBag,
  site: Site,
  resolveReference: ReferenceResolver,
): string {
  if (match === '$$') return '$';
  const key = placeholderKey(match);
  if (NAME.test(key)) return fromBag(key, bag, site);
  const reference = match.startsWith('${') ? asReference(match) : undefined;
  if (reference !== undefined) return fromReference(reference, resolveReference, site);
  throw invalidPlaceholder(match, site);
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

const STRING_AT = /"(?:[^"\\]|\\.)*"/y;
const COLON_AT = /\s*:/y;

/** The first key that occurs twice in one object of `json` (valid JSON text), if any. */
function duplicateKey(json: string): string | undefined {
  // One entry per open object (its keys so far) or array (undefined).
  const open: (Set<string> | undefined)[] = [];
  let i = 0;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      STRING_AT.lastIndex = i;
      const literal = STRING_AT.exec(json)?.[0] ?? '""';
      i += literal.length;
      COLON_AT.lastIndex = i;
      const keys = open.at(-1);
      if (keys === undefined || !COLON_AT.test(json)) continue;
      const key = JSON.parse(literal) as string;
      if (keys.has(key)) return key;
      keys.add(key);
      continue;
    }
    if (c === '{') open.push(new Set());
    else if (c === '[') open.push(undefined);
    else if (c === '}' || c === ']') open.pop();
    i += 1;
  }
  return undefined;
}

/**
 * A JSON.parse message about `text` with its offset given as line and
 * column, and without the copy of the text some messages quote.
 */
function jsonErrorAt(message: string, text: string): string {
  const at = / (?:in JSON )?at position (\d+)/.exec(message);
  if (at === null) return message.replace(/, ".*" is not valid JSON$/s, '');
  const offset = Number(at[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${message.slice(0, at.index)} at line ${line}, column ${column}`;
}

/** JSON.parse without throwing. */
function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** The value as a JSON object, or a TemplateError saying what it is instead. */
function requireObject(value: unknown, file: string): Record<string, unknown> {
  if (isObject(value)) return value;
  throw new TemplateError(
    `bootconf ${file} must be a JSON object ({"key": "value", …}), not ${kindOf(value)}`,
  );
}

/** What a non-object JSON value is, for messages: `null`, `an array`, `a string` … */
function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
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
