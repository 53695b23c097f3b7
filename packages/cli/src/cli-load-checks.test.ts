import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { makeFixture } from './test-fixture.js';

describe('problems known at load time', () => {
  it('-x and boot refuse them with exit 2 before anything launches', async () => {
    const f = makeFixture();
    const level = f.write(
      'bad.conf',
      [
        '[svc-a]',
        'bootpgm: boot.sh',
        'bootpgm_args: a ${.x}',
        'pgm_timeout: 2147484',
        'x: ${.y}',
        'y: ${.x}',
        'bootconf: a.json',
        'workdir: ../x',
      ].join('\n'),
    );
    f.write('a.json', '{"name": "$name" "port": $port}\n');
    const top = f.write(
      'bad-top.conf',
      `[runlevels]\nlevel1: ${level}\n\n[defaults]\nlocal_exe: true\nhostname: localhost\n`,
    );
    const expected = [
      'cloudboot: The plan has 4 problems:',
      `  ${level}:4: [svc-a] pgm_timeout: expected a positive number of seconds, at most 2147483 (about 24 days, the longest timer Node.js allows), got "2147484"`,
      `  ${level}:7: [svc-a] bootconf: template ${join(f.dir, 'a.json')} is not valid JSON whatever its placeholders hold (Expected ',' or '}' after property value at line 1, column 18); expected a JSON object in which a placeholder outside a string stands for one whole JSON value`,
      `  ${level}:8: [svc-a] workdir: expected an absolute path on the machine, or ~/…, got "../x"`,
      `  ${level}:5: [svc-a] x: \${.y} makes a reference cycle (x -> y -> x); expected attributes that do not refer to each other in a circle`,
      '',
    ].join('\n');
    for (const argv of [
      ['boot', '-x', top],
      ['boot', top, '-n', 'bad'],
    ]) {
      const { code, stdout, stderr } = await f.cli(argv);
      expect(stderr).toBe(expected);
      expect(stdout).toBe('');
      expect(code).toBe(EXIT.usage);
    }
    expect(existsSync(f.dbDir)).toBe(false);
    expect(f.order()).toEqual([]);
  });

  it('a pgm_timeout from the environment that no timer can hold fails the service, not the program', async () => {
    const f = makeFixture();
    const level = f.write('t.conf', '[svc-a]\nbootpgm: boot.sh\nbootpgm_args: a ${global.dir}\n');
    const top = f.write(
      't-top.conf',
      `[runlevels]\nlevel1: ${level}\n\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${f.workdir}\npgm_timeout: env.PGM_T\n`,
    );
    const { code, stdout } = await f.cli(['boot', top, '-n', 't', '-g', `dir=${f.dir}`], {
      PGM_T: '2147484',
    });
    expect(code).toBe(EXIT.serviceFailed);
    expect(stdout).toContain(
      '    pgm_timeout is "<redacted>"; expected a positive number of seconds, at most 2147483 (about 24 days, the longest timer Node.js allows)\n',
    );
    expect(f.order()).toEqual([]);
  });
});
