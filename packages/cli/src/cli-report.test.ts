import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { makeFixture } from './test-fixture.js';

describe('error messages on the terminal', () => {
  it('a binary top file is one problem, not one per line of bytes', async () => {
    const f = makeFixture();
    const file = join(f.dir, 'binary.conf');
    const bytes = Buffer.alloc(8192);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37) % 256;
    bytes.write('\x7fELF', 0, 'latin1');
    writeFileSync(file, bytes);
    const { code, stdout, stderr } = await f.cli(['boot', '-x', file]);
    expect(stderr).toBe(
      `cloudboot: The plan has a problem:\n  ${file}: holds NUL bytes, so it is a binary file; expected a text file of [section] headers and key: value lines\n`,
    );
    expect(stdout).toBe('');
    expect(code).toBe(EXIT.usage);
  });

  it('escapes control characters and lists at most 20 problems; --json lists them all', async () => {
    const f = makeFixture();
    const file = join(f.dir, 'noise.conf');
    // No NUL, so it is read as text: every line is a problem, quoted with its ESC bytes.
    const line = (i: number) => `\x1b[31mred ${i}\x1b[0m\x08\x07 ${'x'.repeat(80)}`;
    writeFileSync(file, Array.from({ length: 60 }, (_, i) => line(i)).join('\n'), 'latin1');
    const { code, stderr } = await f.cli(['boot', '-x', file]);
    expect(code).toBe(EXIT.usage);
    const lines = stderr.split('\n');
    expect(lines[0]).toBe('cloudboot: The plan has 61 problems:');
    expect(lines[1]).toBe(
      `  ${file}:1: cannot parse "\\x1b[31mred 0\\x1b[0m\\x08\\x07 ${'x'.repeat(43)}…"; expected [section], key: value, key = value or a comment`,
    );
    expect(lines.slice(1, 21).every((l) => l.startsWith(`  ${file}:`))).toBe(true);
    expect(lines.slice(21)).toEqual(['  … and 41 more (--json lists them all)', '']);
    for (const c of ['\x1b', '\x07', '\x08']) expect(stderr).not.toContain(c);

    const json = await f.cli(['boot', '-x', file, '--json']);
    const result = JSON.parse(json.stdout);
    expect(result.error.problems).toHaveLength(61);
    expect(result.error.problems[0].message).toContain('\x1b[31mred 0');
  });
});
