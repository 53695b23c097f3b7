import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TemplateError } from '../errors.js';
import { bootconfTemplateProblem, fillBootconf, fillTemplate, renderBootenv } from './bootconf.js';
import type { Reference } from './references.js';
import { shellJoin, splitShellWords } from './shell-words.js';

const workDir = mkdtempSync(join(tmpdir(), 'cloudboot-bootenv-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** Writes `bootenv.sh` into the work dir and returns `$key` as /bin/sh sees it after sourcing. */
function sourceAndPrint(bootenv: string, key: string): string {
  writeFileSync(join(workDir, 'bootenv.sh'), bootenv);
  return execFileSync('/bin/sh', ['-c', `. ./bootenv.sh; printf %s "$${key}"`], {
    cwd: workDir,
    encoding: 'utf8',
  });
}

/** A resolver over a fixed table keyed like `db.port`, `.port`, `global.site`. */
function resolverOf(values: Record<string, string>): (r: Reference) => string | undefined {
  return (r) => {
    const scope = r.scope === 'self' ? '' : r.scope === 'global' ? 'global' : (r.service ?? '');
    return values[`${scope}.${r.name}`];
  };
}

const noReferences = (): undefined => undefined;

describe('sample plan', () => {
  const database = fillBootconf(
    '{"name": "${db_name}", "price": "$$10"}\n',
    { db_name: 'orders' },
    noReferences,
    '/plan/files/database.json',
  );

  it('fills the database bootconf in place, as cloudinit.d wrote it', () => {
    expect(database.json).toBe('{"name": "orders", "price": "$10"}\n');
    expect(database.document).toEqual({ name: 'orders', price: '$10' });
  });

  it('renders the database bootenv.sh so that sourcing yields the values', () => {
    const bootenv = renderBootenv(database.document);
    expect(bootenv).toEqual({ text: "export name=orders\nexport price='$10'\n", skipped: [] });
    expect(sourceAndPrint(bootenv.text, 'name')).toBe('orders');
    expect(sourceAndPrint(bootenv.text, 'price')).toBe('$10');
  });

  const published = resolverOf({
    'database.hostname': 'localhost',
    'database.port': '5433',
    'database.password': 'generated-secret',
    'global.site_name': 'demo',
  });
  const webDeps = {
    db_host: '${database.hostname}',
    db_port: '${database.port}',
    db_password: '${database.password}',
  };
  const webBag = Object.fromEntries(
    Object.entries(webDeps).map(([k, v]) => [k, fillTemplate(v, {}, 'web_deps.conf', published)]),
  );

  it('fills the web bootconf from attributes read through the deps file', () => {
    const web = fillBootconf(
      '{"db_url": "postgres://app:${db_password}@${db_host}:${db_port}/orders"}',
      webBag,
      published,
      '/plan/files/web.json',
    );
    expect(web.json).toBe('{"db_url": "postgres://app:generated-secret@localhost:5433/orders"}');
  });

  it('gives the web ready program argv 5433 and "demo site"', () => {
    const self = (r: Reference) => (r.scope === 'self' ? webBag[r.name] : published(r));
    const words = splitShellWords('${.db_port} "${global.site_name} site"').map((w) =>
      fillTemplate(w, webBag, 'readypgm_args', self),
    );
    expect(words).toEqual(['5433', 'demo site']);
    const argv = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${shellJoin(words)}`], {
      encoding: 'utf8',
    });
    expect(argv).toBe('5433\0demo site\0');
  });
});

describe('fillTemplate', () => {
  const bag = { name: 'orders', name_x: 'X', dollar: '$name', empty: '' };

  it.each([
    ['$$', '$'],
    ['$$10 and $$$name', '$10 and $orders'],
    ['$name', 'orders'],
    ['${name}', 'orders'],
    ['$name_x ${name}_x $name.x $name-x', 'X orders_x orders.x orders-x'],
    ['[$empty]', '[]'],
    ['$dollar ${dollar}', '$name $name'],
    ['no placeholders', 'no placeholders'],
  ])('fills %j', (text, filled) => {
    expect(fillTemplate(text, bag, 'test')).toBe(filled);
  });

  it('resolves service, self and global references through the callback', () => {
    const resolve = resolverOf({ 'db.port': '5432', '.port': '80', 'global.site-name': 'demo' });
    expect(fillTemplate('${db.port} ${.port} ${global.site-name} $name', bag, 't', resolve)).toBe(
      '5432 80 demo orders',
    );
  });

  it('names the key, the context and the position of an unknown key', () => {
    expect(() => fillTemplate('ok\n  ${nmae}', bag, 'bootconf /p/db.json')).toThrow(
      new TemplateError('bootconf /p/db.json, line 2, column 3: unknown key "nmae"'),
    );
    expect(() => fillTemplate('$constructor', bag, 'c')).toThrow('unknown key "constructor"');
  });

  it('reports a reference without value', () => {
    expect(() => fillTemplate('x ${db.nope}', bag, 'c')).toThrow(
      'c, line 1, column 3: ${db.nope} has no value',
    );
    expect(() => fillTemplate('${.port}', bag, 'c')).toThrow('${.port} has no value');
  });

  it.each([
    ['price $10', 'line 1, column 7: invalid "$"'],
    ['a $ b', 'line 1, column 3: invalid "$"'],
    ['trailing $', 'line 1, column 10: invalid "$"'],
    ['\n\n x${name', 'line 3, column 3: invalid "$"'],
    ['${}', 'line 1, column 1: invalid placeholder "${}"'],
    ['${a-b}', 'line 1, column 1: invalid placeholder "${a-b}"'],
    ['${ name }', 'line 1, column 1: invalid placeholder "${ name }"'],
    ['${1x}', 'line 1, column 1: invalid placeholder "${1x}"'],
  ])('rejects the invalid placeholder in %j', (text, message) => {
    expect(() => fillTemplate(text, bag, 'ctx')).toThrow(TemplateError);
    expect(() => fillTemplate(text, bag, 'ctx')).toThrow(`ctx, ${message}`);
  });
});

describe('fillBootconf', () => {
  const fill = (template: string, bag: Record<string, string>) =>
    fillBootconf(template, bag, noReferences, '/p/x.json');

  it('keeps the text of the template byte for byte around the placeholders', () => {
    const template =
      '{\n  "name": "$name",\t"port": $port ,\n\n  "list": [ 1,2 ],  "url": "http://${host}/x"\r\n}  \n';
    const { json, document } = fill(template, { name: 'orders', port: '5432', host: 'db' });
    expect(json).toBe(
      '{\n  "name": "orders",\t"port": 5432 ,\n\n  "list": [ 1,2 ],  "url": "http://db/x"\r\n}  \n',
    );
    expect(document).toEqual({ name: 'orders', port: 5432, list: [1, 2], url: 'http://db/x' });
  });

  it.each(['a", "evil": "x', 'a\\", "evil": "x', '\\', '"}', '\n\u0000\u2028', '$x ${y}'])(
    'keeps the hostile value %j one string, escaped for JSON',
    (value) => {
      const { document, json } = fill('{"v": "${v}", "w": "[$v]"}', { v: value });
      expect(document).toEqual({ v: value, w: `[${value}]` });
      const escaped = JSON.stringify(value).slice(1, -1);
      expect(json).toBe(`{"v": "${escaped}", "w": "[${escaped}]"}`);
    },
  );

  it('fills keys and nested values, leaves non-strings alone', () => {
    const { document, json } = fill(
      '{"${k}": {"list": ["$v", 1, true, null, {"$k": "$$"}]}, "n": 2.5}',
      { k: 'key', v: 'a", "evil": "x' },
    );
    expect(document).toEqual({
      key: { list: ['a", "evil": "x', 1, true, null, { key: '$' }] },
      n: 2.5,
    });
    expect(json).toBe(
      '{"key": {"list": ["a\\", \\"evil\\": \\"x", 1, true, null, {"key": "$"}]}, "n": 2.5}',
    );
  });

  it('follows escaped quotes and backslashes inside strings', () => {
    const { document } = fill('{"a\\"$k": "\\\\", "b": "\\\\$v"}', { k: '"', v: '\\' });
    expect(document).toEqual({ 'a""': '\\', b: '\\\\' });
  });

  it('keeps a "__proto__" key a plain key', () => {
    const { document, json } = fill('{"${k}": {"polluted": "yes"}}', { k: '__proto__' });
    expect(json).toBe('{"__proto__": {"polluted": "yes"}}');
    expect(Object.hasOwn(document, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(document)).toBe(Object.prototype);
  });

  it('refuses keys that become equal', () => {
    expect(() => fill('{"a": 1, "o": {"a": 2}, "$k": 3}', { k: 'a' })).toThrow(
      new TemplateError(
        'bootconf /p/x.json: key "a" appears twice in one object after substitution; expected each key once',
      ),
    );
    expect(fill('{"a": ["a", {"a": 1}], "b": "a"}', {}).document).toEqual({
      a: ['a', { a: 1 }],
      b: 'a',
    });
  });

  it('says where an unknown key sits in the template', () => {
    expect(() => fill('{"a": {"b/c": ["x",\n "y $nope"]}}', {})).toThrow(
      new TemplateError('bootconf /p/x.json, line 2, column 5: unknown key "nope"'),
    );
  });

  it('inserts a placeholder outside a string as it is, like cloudinit.d', () => {
    const { document, json } = fill('{"port": $port, "tags": $tags, "on": ${on}}', {
      port: '5432',
      tags: '["a", "b"]',
      on: ' true ',
    });
    expect(document).toEqual({ port: 5432, tags: ['a', 'b'], on: true });
    expect(json).toBe('{"port": 5432, "tags": ["a", "b"], "on":  true }');
  });

  it.each(['54 32', '1, "evil": 2', '"a", "b"', '', '5}, "x": {"y": 1'])(
    'refuses the value %j outside a string without showing it: it is not one JSON value',
    (value) => {
      expect(() => fill('{\n  "port": $port}', { port: value })).toThrow(
        new TemplateError(
          'bootconf /p/x.json, line 2, column 11: $port is outside a JSON string, so its value must be one JSON value (a number, true, false, null, a "quoted string", an array or an object), and it is not; write "$port" to insert it as a string',
        ),
      );
    },
  );

  it('refuses text that is not JSON after substitution', () => {
    expect(() => fill('{"port": $port', { port: '1' })).toThrow(
      /^bootconf \/p\/x.json is not valid JSON after substitution: /,
    );
  });

  it.each([
    ['["a"]', 'an array'],
    ['"text"', 'a string'],
    ['null', 'null'],
    ['$n', 'a number'],
  ])('refuses the non-object %j', (template, found) => {
    expect(() => fill(template, { n: '3' })).toThrow(
      new TemplateError(
        `bootconf /p/x.json must be a JSON object ({"key": "value", …}), not ${found}`,
      ),
    );
  });
});

describe('bootconfTemplateProblem', () => {
  it.each([
    '{"name": "$name", "port": $port, "list": [$a, ${b.c}], "p": "$$1"}',
    '{}\n',
    '{"a": "\\"$x\\""}',
  ])('accepts %j', (template) => {
    expect(bootconfTemplateProblem(template, 't')).toBeUndefined();
  });

  it.each([
    [
      '{"a": 1,, "b": "$x"}',
      /^t is not valid JSON whatever its placeholders hold \(.+\); expected a JSON object in which a placeholder outside a string stands for one whole JSON value$/,
    ],
    [
      '{"a": $x $y}',
      /^t is not valid JSON whatever its placeholders hold \(Expected ',' or '}' after property value at line 1, column 10\); /,
    ],
    [
      '{\n  "name": "$name"\n  "port": $port\n}',
      /^t is not valid JSON whatever its placeholders hold \(Expected ',' or '}' after property value at line 3, column 3\); /,
    ],
    ['{"a": }', /^t is not valid JSON whatever its placeholders hold \(Unexpected token '}'\); /],
    ['{"price": "$10"}', /^t, line 1, column 12: invalid "\$"/],
    ['{"a": "${a b}"}', /^t, line 1, column 8: invalid placeholder "\$\{a b\}"/],
    ['[$x]', /^t is an array; expected a JSON object \(\{"key": "value", …\}\)$/],
  ])('refuses %j', (template, message) => {
    expect(bootconfTemplateProblem(template, 't')).toMatch(message);
  });
});

describe('renderBootenv', () => {
  it('renders each type of value', () => {
    const { text, skipped } = renderBootenv({
      s: 'text',
      n: 5433,
      f: -1.5,
      t: true,
      z: null,
      o: { a: [1, 'x'] },
      l: ['a b'],
    });
    expect(text).toBe(
      [
        'export s=text',
        'export n=5433',
        'export f=-1.5',
        'export t=true',
        "export z=''",
        `export o='{"a":[1,"x"]}'`,
        `export l='["a b"]'`,
        '',
      ].join('\n'),
    );
    expect(skipped).toEqual([]);
  });

  it('skips keys that are not shell identifiers and values a shell cannot hold', () => {
    const { text, skipped } = renderBootenv({
      ok_1: 'x',
      'db-url': 'x',
      '1st': 'x',
      'a b': 'x',
      'x;touch pwned': 'x',
      '': 'x',
      nul: 'a\0b',
    });
    expect(text).toBe('export ok_1=x\n');
    expect(skipped).toEqual(['db-url', '1st', 'a b', 'x;touch pwned', '', 'nul']);
  });

  it('ends with a newline when nothing is exported', () => {
    expect(renderBootenv({})).toEqual({ text: '\n', skipped: [] });
  });

  const hostile = {
    dollar: '$10',
    apostrophe: "it's",
    backtick: '`touch pwned`',
    command: '$(touch pwned)',
    braces: '${HOME}',
    newlines: 'line1\nline2\n\n',
    backslashes: 'a\\b\\\\c\\',
    unicode: 'ünïcødé ✓ 日本 🚀',
    quotes: `'"'"'`,
    spaces: '  leading and trailing  ',
    empty: '',
    glob: '* ~ #',
    json: 'a", "evil": "x',
  };

  it.each(Object.entries(hostile))('yields exactly the %s value when sourced', (key, value) => {
    const { text } = renderBootenv(hostile);
    expect(sourceAndPrint(text, key)).toBe(value);
    expect(existsSync(join(workDir, 'pwned'))).toBe(false);
  });

  it('carries hostile bag values through bootconf.json and bootenv.sh unchanged', () => {
    const template = `{${Object.keys(hostile)
      .map((k) => `"${k}": "$${k}"`)
      .join(', ')}}`;
    const { document } = fillBootconf(template, hostile, noReferences, 'hostile.json');
    expect(document).toEqual(hostile);
    const { text } = renderBootenv(document);
    for (const [key, value] of Object.entries(hostile)) {
      expect(sourceAndPrint(text, key)).toBe(value);
    }
    expect(existsSync(join(workDir, 'pwned'))).toBe(false);
  });
});
