/**
 * The INI dialect of cloudinit.d plans, read the way Python 2's ConfigParser
 * read it, so that existing plans mean the same thing here. The parser never
 * throws: it returns what it understood plus every problem, so the loader can
 * report all problems of all files at once.
 */
import type { PlanProblem } from '../errors.js';

/** One `key: value` (or `key = value`) line of a section, with its continuation lines. */
export interface IniEntry {
  /** Lower-cased key. */
  readonly key: string;
  /** Trimmed value without its inline comment; continuation lines joined with `\n`. */
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
}

/** One `[name]` section as written; a name written twice gives two sections. */
export interface IniSection {
  /** The name between the brackets, trimmed, case kept. */
  readonly name: string;
  /** 1-based line of the header. */
  readonly line: number;
  /** Entries in file order; of a key written twice, only the later one is kept. */
  readonly entries: readonly IniEntry[];
}

/** What {@link parseIni} understood of a file, and what it did not. */
export interface IniDocument {
  /** Sections in file order. */
  readonly sections: readonly IniSection[];
  /** Lines that could not be understood, in file order. */
  readonly problems: readonly PlanProblem[];
}

const SECTION_HEADER = /^\[([^\]]*)\]\s*(?:[#;].*)?$/;
const SEPARATOR = /[:=]/;
/** ConfigParser only took `;` as an inline comment after whitespace, so `a;b` and `#x` stay values. */
const INLINE_COMMENT = /\s;/;

interface OpenEntry {
  readonly key: string;
  readonly line: number;
  readonly parts: string[];
}

interface OpenSection {
  readonly name: string;
  readonly line: number;
  readonly entries: Map<string, OpenEntry>;
}

/** Mutable state while reading one file. */
class IniReader {
  readonly sections: OpenSection[] = [];
  readonly problems: PlanProblem[] = [];
  private entry: OpenEntry | undefined;

  constructor(private readonly file: string) {}

  read(text: string): void {
    const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
    lines.forEach((line, index) => {
      this.readLine(line, index + 1);
    });
  }

  private readLine(line: string, lineNumber: number): void {
    const trimmed = line.trim();
    // Blank and comment lines do not end a multi-line value in ConfigParser.
    if (trimmed === '' || /^[#;]/.test(line)) return;
    if (/^\s/.test(line)) {
      this.continueValue(trimmed, lineNumber);
      return;
    }
    const header = SECTION_HEADER.exec(line);
    if (header) {
      this.openSection((header[1] ?? '').trim(), line, lineNumber);
      return;
    }
    this.readEntry(line, lineNumber);
  }

  private continueValue(trimmed: string, lineNumber: number): void {
    if (this.entry) {
      this.entry.parts.push(trimmed);
    } else if (!/^[#;]/.test(trimmed)) {
      this.problem(
        lineNumber,
        `indented line ${quoted(trimmed)} continues no key; expected "key: value" before it`,
        this.sections.at(-1)?.name,
      );
    }
  }

  private openSection(name: string, line: string, lineNumber: number): void {
    this.entry = undefined;
    if (name === '') {
      this.problem(
        lineNumber,
        `cannot parse ${quoted(line.trim())}; expected a section name, e.g. [defaults]`,
        undefined,
      );
      return;
    }
    this.sections.push({ name, line: lineNumber, entries: new Map() });
  }

  private readEntry(line: string, lineNumber: number): void {
    this.entry = undefined;
    const at = line.search(SEPARATOR);
    const key = at > 0 ? line.slice(0, at).trim().toLowerCase() : '';
    if (key === '') {
      this.problem(
        lineNumber,
        `cannot parse ${quoted(line.trim())}; expected [section], key: value, key = value or a comment`,
        this.sections.at(-1)?.name,
      );
      return;
    }
    const section = this.sections.at(-1);
    if (!section) {
      this.problems.push({
        file: this.file,
        line: lineNumber,
        key,
        message: 'key comes before any section; expected a [section] header first',
      });
      return;
    }
    this.entry = { key, line: lineNumber, parts: [withoutInlineComment(line.slice(at + 1))] };
    // Deleting first makes a repeated key take the later position as well as the later value.
    section.entries.delete(key);
    section.entries.set(key, this.entry);
  }

  private problem(line: number, message: string, section: string | undefined): void {
    this.problems.push({
      file: this.file,
      line,
      ...(section !== undefined && { section }),
      message,
    });
  }
}

/** Longest part of a line quoted in a problem. */
const MAX_QUOTED = 60;

/** A line quoted for a problem message, cut at {@link MAX_QUOTED} characters. */
function quoted(text: string): string {
  return text.length > MAX_QUOTED ? `"${text.slice(0, MAX_QUOTED)}…"` : `"${text}"`;
}

function withoutInlineComment(rawValue: string): string {
  const value = rawValue.trim();
  const comment = value.search(INLINE_COMMENT);
  return (comment === -1 ? value : value.slice(0, comment)).trim();
}

function closeSection(section: OpenSection): IniSection {
  const entries = Array.from(section.entries.values(), (entry) => ({
    key: entry.key,
    value: entry.parts.join('\n'),
    line: entry.line,
  }));
  return { name: section.name, line: section.line, entries };
}

/**
 * Parses INI text: `[section]` headers, `key: value` / `key = value` split at
 * the first `:` or `=`, `#`/`;` full-line comments, ` ;` inline comments,
 * indented continuation lines, lower-cased keys (a repeated key: later wins).
 *
 * @param file Absolute path, used only to locate problems.
 */
export function parseIni(text: string, file: string): IniDocument {
  const reader = new IniReader(file);
  reader.read(text);
  return { sections: reader.sections.map(closeSection), problems: reader.problems };
}
