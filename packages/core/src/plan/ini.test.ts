import { describe, expect, it } from 'vitest';
import { parseIni } from './ini.js';

const FILE = '/plans/top.conf';

/** Sections as `{name: {key: value}}`, for compact assertions. */
function valuesOf(text: string): Record<string, Record<string, string>> {
  const { sections, problems } = parseIni(text, FILE);
  expect(problems).toEqual([]);
  return Object.fromEntries(
    sections.map((s) => [s.name, Object.fromEntries(s.entries.map((e) => [e.key, e.value]))]),
  );
}

describe('parseIni', () => {
  it('reads sections, both separators and their lines', () => {
    const { sections, problems } = parseIni(
      '# plan\n[defaults]\nimage: ami-1\niaas = ec2\n\n[svc-web]\nhostname:web.example\n',
      FILE,
    );
    expect(problems).toEqual([]);
    expect(sections).toEqual([
      {
        name: 'defaults',
        line: 2,
        entries: [
          { key: 'image', value: 'ami-1', line: 3 },
          { key: 'iaas', value: 'ec2', line: 4 },
        ],
      },
      { name: 'svc-web', line: 6, entries: [{ key: 'hostname', value: 'web.example', line: 7 }] },
    ]);
  });

  it('splits at the first ":" or "=", keeping the rest in the value', () => {
    expect(valuesOf('[a]\nurl: http://h:8080/x?a=b\nexpr = a:b=c\nempty:\n')).toEqual({
      a: { url: 'http://h:8080/x?a=b', expr: 'a:b=c', empty: '' },
    });
  });

  it('skips full-line comments and blank lines', () => {
    expect(valuesOf('; first\n[a]\n# note\n\n; other\nk: v\n')).toEqual({ a: { k: 'v' } });
  });

  it('cuts an inline comment only at ";" after whitespace; "#" stays in the value', () => {
    expect(
      valuesOf('[a]\nx: one ; comment\ny: a;b\nz: #1 and # 2\nt: tab\t; c\nu: ;kept\n'),
    ).toEqual({ a: { x: 'one', y: 'a;b', z: '#1 and # 2', t: 'tab', u: ';kept' } });
  });

  it('allows a comment after a section header', () => {
    expect(valuesOf('[svc-db] ; the database\nk: v\n')).toEqual({ 'svc-db': { k: 'v' } });
  });

  it('joins indented continuation lines with newlines, across blank lines', () => {
    const { sections } = parseIni('[a]\nk: first\n  second\n\n\tthird\nnext: 1\n', FILE);
    expect(sections[0]?.entries).toEqual([
      { key: 'k', value: 'first\nsecond\nthird', line: 2 },
      { key: 'next', value: '1', line: 6 },
    ]);
  });

  it('lower-cases keys and keeps the later of a repeated key', () => {
    const { sections } = parseIni('[Svc-Web]\nImage: a\nother: x\nIMAGE: b\n', FILE);
    expect(sections).toEqual([
      {
        name: 'Svc-Web',
        line: 1,
        entries: [
          { key: 'other', value: 'x', line: 3 },
          { key: 'image', value: 'b', line: 4 },
        ],
      },
    ]);
  });

  it('keeps a repeated section as a second section', () => {
    const { sections } = parseIni('[a]\nk: 1\n[b]\n[a]\nk: 2\n', FILE);
    expect(sections.map((s) => [s.name, s.line])).toEqual([
      ['a', 1],
      ['b', 3],
      ['a', 4],
    ]);
  });

  it('handles CRLF line endings and a byte order mark', () => {
    expect(valuesOf('\uFEFF[a]\r\nk: v\r\n  more\r\n')).toEqual({ a: { k: 'v\nmore' } });
  });

  it('reports every line it cannot understand, with its line number', () => {
    const { sections, problems } = parseIni(
      'early: 1\n[a]\nno separator here\n: no key\n[]\n  indented\n[b] trailing\nok: yes\n',
      FILE,
    );
    expect(problems).toEqual([
      {
        file: FILE,
        line: 1,
        key: 'early',
        message: 'key comes before any section; expected a [section] header first',
      },
      {
        file: FILE,
        line: 3,
        section: 'a',
        message:
          'cannot parse "no separator here"; expected [section], key: value, key = value or a comment',
      },
      {
        file: FILE,
        line: 4,
        section: 'a',
        message:
          'cannot parse ": no key"; expected [section], key: value, key = value or a comment',
      },
      {
        file: FILE,
        line: 5,
        message: 'cannot parse "[]"; expected a section name, e.g. [defaults]',
      },
      {
        file: FILE,
        line: 6,
        section: 'a',
        message: 'indented line "indented" continues no key; expected "key: value" before it',
      },
      {
        file: FILE,
        line: 7,
        section: 'a',
        message:
          'cannot parse "[b] trailing"; expected [section], key: value, key = value or a comment',
      },
    ]);
    expect(sections).toEqual([
      { name: 'a', line: 2, entries: [{ key: 'ok', value: 'yes', line: 8 }] },
    ]);
  });

  it('ignores an indented comment that continues no key', () => {
    const { problems } = parseIni('[a]\n  # indented note\nk: v\n', FILE);
    expect(problems).toEqual([]);
  });
});
