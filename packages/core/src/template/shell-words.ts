/**
 * Shell word handling: quoting for anything that reaches a remote shell, and
 * splitting of `*_args` plan values into words the way a POSIX shell would.
 */
import { TemplateError } from '../errors.js';

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Characters that separate words outside quotes. */
const BLANKS = new Set([' ', '\t', '\n']);

/** Characters a backslash escapes inside double quotes (newline: line continuation). */
const DOUBLE_QUOTE_ESCAPES = new Set(['\\', '"', '$', '`', '\n']);

const LINE_CONTINUATION = '\\\n';

/**
 * Quotes one word so that a POSIX shell reads it back as exactly `word`:
 * no expansion, no word splitting, no command substitution.
 *
 * @example shellQuote("it's $HOME") === `'it'\\''s $HOME'`
 */
export function shellQuote(word: string): string {
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quotes each word and joins them with spaces: a safe command line. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

/**
 * Splits `text` into words like a POSIX shell reads a command line: blanks
 * separate words, single quotes are literal, double quotes let a backslash
 * escape only `\ " $ `` ` (and remove a backslash-newline), a backslash outside
 * quotes escapes the next character, and adjacent parts join into one word
 * (`a"b c"'d'` is one word). Nothing is expanded: `$`, `` ` ``, `~`, `*` and
 * `#` stay literal, so the caller can substitute each word afterwards and a
 * substituted value containing spaces stays one word.
 *
 * @example splitShellWords(`\${.port} "\${global.site} site"`) // ['${.port}', '${global.site} site']
 * @throws TemplateError when a quote is not closed or the text ends with a lone backslash.
 */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let index = 0;
  while (index < text.length) {
    if (text.startsWith(LINE_CONTINUATION, index)) {
      index += LINE_CONTINUATION.length;
      continue;
    }
    if (BLANKS.has(text.charAt(index))) {
      if (word !== undefined) words.push(word);
      word = undefined;
      index += 1;
      continue;
    }
    const part = readPart(text, index);
    word = (word ?? '') + part.value;
    index = part.end;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** A piece of a word and the index just after it. */
interface Part {
  readonly value: string;
  readonly end: number;
}

/** Reads the quoted string, escaped character or plain character at `start`. */
function readPart(text: string, start: number): Part {
  const char = text.charAt(start);
  if (char === "'") return readSingleQuoted(text, start);
  if (char === '"') return readDoubleQuoted(text, start);
  if (char !== '\\') return { value: char, end: start + 1 };
  if (start + 1 >= text.length) {
    throw new TemplateError(`${describe(text)} ends with a backslash that escapes nothing`);
  }
  return { value: text.charAt(start + 1), end: start + 2 };
}

/** Reads `'…'` starting at the opening quote: everything up to the next `'` is literal. */
function readSingleQuoted(text: string, start: number): Part {
  const close = text.indexOf("'", start + 1);
  if (close < 0) throw unterminated(text, start);
  return { value: text.slice(start + 1, close), end: close + 1 };
}

/** Reads `"…"` starting at the opening quote, honouring the backslash escapes allowed there. */
function readDoubleQuoted(text: string, start: number): Part {
  let value = '';
  let index = start + 1;
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === '"') return { value, end: index + 1 };
    const next = text.charAt(index + 1);
    if (char === '\\' && DOUBLE_QUOTE_ESCAPES.has(next)) {
      if (next !== '\n') value += next;
      index += 2;
    } else {
      value += char;
      index += 1;
    }
  }
  throw unterminated(text, start);
}

/** The error for a quote opened at `start` and never closed. */
function unterminated(text: string, start: number): TemplateError {
  const quote = text.charAt(start);
  return new TemplateError(
    `${describe(text)} has an unterminated ${quote} quote (opened at character ${start + 1}); ` +
      `close it (a literal quote needs a backslash, or the other kind of quotes)`,
  );
}

/** The text as shown in error messages. */
function describe(text: string): string {
  return `shell words ${JSON.stringify(text)}`;
}
