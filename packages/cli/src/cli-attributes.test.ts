import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { type Fixture, makeFixture } from './test-fixture.js';

/** A one-service plan in the fixture dir: `[svc-NAME]` with `keys`, programs run locally. */
function onePlan(f: Fixture, levels: readonly string[]): string {
  const files = levels.map((text, i) => f.write(`only${i + 1}.conf`, text));
  return f.write(
    'only.conf',
    `[runlevels]\n${files.map((file, i) => `level${i + 1}: ${file}`).join('\n')}\n\n[defaults]\nlocal_exe: true\nhostname: localhost\nworkdir: ${f.workdir}\n`,
  );
}

describe('attribute names', () => {
  it('${.toString} and ${.__proto__} are no attributes: inherited properties are not looked up', async () => {
    const f = makeFixture();
    f.write('a.json', '{"x": "${.toString}"}\n');
    const plan = onePlan(f, [
      '[svc-a]\nbootconf: a.json\n\n[svc-b]\nbootpgm: /bin/echo\nbootpgm_args: ${.__proto__}\n',
    ]);
    const { code, stdout } = await f.cli(['boot', plan, '-n', 'proto']);
    expect(code).toBe(EXIT.serviceFailed);
    const none = (service: string, name: string) =>
      `\${.${name}}: ${service} has no attribute "${name}" (not in its plan keys or deps, and not published by its boot program)\n`;
    expect(stdout).toContain(`    ${none('a', 'toString')}`);
    expect(stdout).toContain(`    b: bootpgm_args: ${none('b', '__proto__')}`);
    expect(stdout).not.toContain('native code');
  });

  it('reserved names in bootout.json are ignored with a warning in the service log', async () => {
    const f = makeFixture();
    f.write(
      'publish.sh',
      `#!/bin/sh\ncat > bootout.json <<'EOF'\n{"hostname": "evil.example", "workdir": "/evil", "service": "evil", "run_name": "evil", "instance_id": "i-evil", "bootpgm": "/evil.sh", "readypgm_args": "evil", "port": "5432"}\nEOF\n`,
      true,
    );
    f.write('show.sh', `#!/bin/sh\nprintf '%s\\n' "$@" > ${f.dir}/seen.txt\n`, true);
    const plan = onePlan(f, [
      '[svc-db]\nbootpgm: publish.sh\n',
      '[svc-app]\nbootpgm: show.sh\nbootpgm_args: ${db.hostname} ${db.workdir} ${db.service} ${db.run_name} ${db.bootpgm} ${db.port}\n',
    ]);
    const out = join(f.dir, 'run.json');
    const { code, stdout } = await f.cli(['boot', plan, '-n', 'res', '-o', out]);
    expect(stdout).toContain('run res: boot ok');
    expect(code).toBe(EXIT.ok);
    expect(readFileSync(join(f.dir, 'seen.txt'), 'utf8')).toBe(
      `localhost\n${f.workdir}\ndb\nres\n${join(f.dir, 'publish.sh')}\n5432\n`,
    );
    const description = JSON.parse(readFileSync(out, 'utf8'));
    const db = description.levels[0].services[0];
    expect(db.attributes).toEqual({
      service: 'db',
      run_name: 'res',
      hostname: 'localhost',
      instance_id: 'static:localhost',
      local_exe: 'true',
      workdir: f.workdir,
      bootpgm: join(f.dir, 'publish.sh'),
      port: '5432',
    });
    const log = readFileSync(join(f.dbDir, 'logs', 'res', 'db.log'), 'utf8');
    expect(log).toMatch(
      /\] warning: bootout\.json: ignored hostname, workdir, service, run_name, instance_id, bootpgm, readypgm_args: reserved names \(set by cloudboot or the plan\) cannot be published\n/,
    );
  });
});

describe('bootconf.json', () => {
  it('is the template as written, filled in place, so boot programs can grep it', async () => {
    const f = makeFixture();
    f.write(
      'db.json',
      '{\n    "name": "$name",\n    "port":   $port,\n    "note": "say \\"${global.word}\\"" ,\n    "cost": "$$5"\n}\n',
    );
    f.write(
      'grep.sh',
      `#!/bin/sh\ncp bootconf.json ${f.dir}/seen.json\ngrep -q '"name": "orders"' bootconf.json && grep -q '"port":   5432,' bootconf.json\n`,
      true,
    );
    const plan = onePlan(f, [
      '[svc-db]\nbootconf: db.json\nbootpgm: grep.sh\nname: orders\nport: 5432\n',
    ]);
    const { code, stdout } = await f.cli(['boot', plan, '-n', 'g', '-g', 'word=a "b" \\ c']);
    expect(stdout).toContain('run g: boot ok');
    expect(code).toBe(EXIT.ok);
    expect(readFileSync(join(f.dir, 'seen.json'), 'utf8')).toBe(
      '{\n    "name": "orders",\n    "port":   5432,\n    "note": "say \\"a \\"b\\" \\\\ c\\"" ,\n    "cost": "$5"\n}\n',
    );
  });
});
