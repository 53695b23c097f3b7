import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { shellJoin, shellQuote, splitShellWords } from './shell-words.js';

/** The words `/bin/sh` passes to printf for `commandLine`, NUL-separated. */
function wordsSeenBySh(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' START ${commandLine}`], {
    encoding: 'utf8',
  });
  return out.split('\0').slice(1, -1);
}

const HOSTILE = [
  '',
  'plain',
  'two words',
  "it's",
  "''",
  '"double"',
  '$HOME',
  '${HOME}',
  '$10',
  '`touch pwned`',
  '$(id)',
  'a\\b\\\\c\\',
  'line1\nline2\n',
  'tab\there',
  '*',
  '~',
  '#comment',
  'a;b|c&d>e<f',
  '-n',
  'ünïcødé ✓ 日本',
];

describe('shellQuote', () => {
  it('leaves safe words bare and quotes the rest', () => {
    expect(shellQuote('db-0.example.com:5432')).toBe('db-0.example.com:5432');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's $HOME")).toBe(`'it'\\''s $HOME'`);
  });

  it('round-trips every word through /bin/sh exactly', () => {
    expect(wordsSeenBySh(shellJoin(HOSTILE))).toEqual(HOSTILE);
  });

  it('runs no command substitution', () => {
    expect(wordsSeenBySh(shellQuote('$(echo injected)'))).toEqual(['$(echo injected)']);
  });
});

describe('splitShellWords', () => {
  it('splits the sample readypgm_args into two words, keeping references', () => {
    expect(splitShellWords('${.db_port} "${global.site_name} site"')).toEqual([
      '${.db_port}',
      '${global.site_name} site',
    ]);
  });

  it.each([
    ['', []],
    ['  \t\n ', []],
    ['a  b\tc\nd', ['a', 'b', 'c', 'd']],
    ["'a  b' c", ['a  b', 'c']],
    ['\'\' ""', ['', '']],
    ['a"b c"\'d e\'f', ['ab cd ef']],
    ['a\\ b', ['a b']],
    ['\\\'x\\"', ['\'x"']],
    ["'a\\b' '\"'", ['a\\b', '"']],
    ['"\\\\ \\" \\$ \\` \\n \\a"', ['\\ " $ ` \\n \\a']],
    ['"it\'s"', ["it's"]],
    ['a\\\nb c', ['ab', 'c']],
    ['a \\\n b', ['a', 'b']],
    ['"a\\\nb"', ['ab']],
    ["'a\\\nb'", ['a\\\nb']],
    ['$HOME `id` $(id) ~ * #x', ['$HOME', '`id`', '$(id)', '~', '*', '#x']],
    ['"$x y" \'$z\'', ['$x y', '$z']],
  ])('splits %j', (text, words) => {
    expect(splitShellWords(text)).toEqual(words);
  });

  it.each([
    'a  b\tc',
    "'a  b' c",
    '\'\' ""',
    'a"b c"\'d e\'f',
    'a\\ b \\\'x\\"',
    '"\\\\ \\" \\` \\n \\a"',
    '"it\'s" \'say "hi"\'',
    'a\\\nb \\\n c',
    '"a\\\nb"',
    'x=1 --flag="two words" ünï"cødé"',
  ])('agrees with /bin/sh on %j', (text) => {
    expect(splitShellWords(text)).toEqual(wordsSeenBySh(text));
  });

  it.each([
    ["'abc", "unterminated ' quote (opened at character 1)"],
    ['a "b c', 'unterminated " quote (opened at character 3)'],
    ['"a\\"', 'unterminated " quote'],
    ["'it's'", "unterminated ' quote (opened at character 6)"],
    ['abc\\', 'ends with a backslash'],
  ])('rejects %j', (text, message) => {
    expect(() => splitShellWords(text)).toThrow(TemplateError);
    expect(() => splitShellWords(text)).toThrow(message);
  });
});
