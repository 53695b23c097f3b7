import { describe, expect, it } from 'vitest';
import type { Plan } from '../plan/model.js';
import { Attributes, machineAttributes, publishable, RESERVED_ATTRIBUTES } from './attributes.js';

const source = { file: '/plan/l1.conf', line: 1, section: 'svc-db' };
const value = (text: string) => ({ value: text, source });

/** A one-service plan as the run database gives it back: parsed JSON, with prototypes. */
const plan = JSON.parse(
  JSON.stringify({
    topFile: '/plan/top.conf',
    globals: { site: value('demo') },
    levels: [
      {
        level: 1,
        file: '/plan/l1.conf',
        services: [
          {
            name: 'db',
            level: 1,
            source,
            keys: { hostname: value('h1'), workdir: value('/srv') },
            deps: { port: value('5432') },
          },
        ],
      },
    ],
  } satisfies Plan),
) as Plan;

const attributes = (published: Record<string, string>) =>
  new Attributes({
    runName: 'r',
    plan,
    globals: { site: 'demo' },
    env: {},
    facts: () => ({ hostname: null, instanceId: null, published }),
  });

describe('Attributes', () => {
  const inherited = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];

  it.each(inherited)('has no attribute %s, nor a key or global of that name', (name) => {
    const attrs = attributes(JSON.parse('{"extra": "x"}'));
    expect(attrs.attr('db', name)).toBeUndefined();
    expect(attrs.key('db', name)).toBeUndefined();
    expect(attrs.rawKey('db', name)).toBeUndefined();
    expect(attrs.global(name)).toBeUndefined();
    expect(() => attrs.substitute('db', `\${.${name}}`, 'v: ')).toThrow(
      `v: \${.${name}}: db has no attribute "${name}"`,
    );
  });

  it('gives a bag without prototype', () => {
    const bag = attributes({ extra: 'x' }).bag('db');
    expect(Object.getPrototypeOf(bag)).toBeNull();
    expect({ ...bag }).toEqual({
      service: 'db',
      run_name: 'r',
      hostname: 'h1',
      workdir: '/srv',
      port: '5432',
      extra: 'x',
    });
  });

  it('ignores published values of reserved names, even if the database holds them', () => {
    const attrs = attributes({ hostname: 'evil', workdir: '/evil', run_name: 'evil', port: '1' });
    expect(attrs.attr('db', 'hostname')).toBe('h1');
    expect(attrs.attr('db', 'workdir')).toBe('/srv');
    expect(attrs.attr('db', 'run_name')).toBe('r');
    expect(attrs.attr('db', 'port')).toBe('1');
  });
});

describe('publishable', () => {
  it('keeps what may be published and lists the reserved names in order', () => {
    const { attributes: kept, ignored } = publishable({
      port: '1',
      service: 's',
      readypgm_args: 'x',
      instance_id: 'i',
      password: 'p',
    });
    expect({ ...kept }).toEqual({ port: '1', password: 'p' });
    expect(ignored).toEqual(['service', 'readypgm_args', 'instance_id']);
  });

  it('reserves the built-in attributes and every service key', () => {
    for (const name of ['service', 'run_name', 'hostname', 'instance_id', 'workdir', 'bootpgm']) {
      expect(RESERVED_ATTRIBUTES.has(name)).toBe(true);
    }
  });
});

describe('machineAttributes', () => {
  it('publishes the addresses and the driver-given facts, ignoring reserved names', () => {
    const { attributes: machine, ignored } = machineAttributes({
      publicAddress: '203.0.113.7',
      privateAddress: '10.0.0.7',
      attributes: { zone: 'z1', hostname: 'evil', instance_id: 'i-evil', workdir: '/evil' },
    });
    expect({ ...machine }).toEqual({
      zone: 'z1',
      public_ip: '203.0.113.7',
      private_ip: '10.0.0.7',
    });
    expect(ignored).toEqual(['hostname', 'instance_id', 'workdir']);
    expect({ ...machineAttributes({}).attributes }).toEqual({});
  });

  it('are attributes of the service ahead of what its boot program published', () => {
    const attrs = new Attributes({
      runName: 'r',
      plan,
      globals: {},
      env: {},
      facts: () => ({
        hostname: null,
        instanceId: null,
        published: { public_ip: 'claimed', extra: 'x' },
        machineAttributes: { public_ip: '203.0.113.7', zone: 'z1', workdir: '/evil' },
      }),
    });
    expect(attrs.attr('db', 'public_ip')).toBe('203.0.113.7');
    expect(attrs.attr('db', 'zone')).toBe('z1');
    expect(attrs.attr('db', 'workdir')).toBe('/srv');
    expect(attrs.bag('db')).toMatchObject({ public_ip: '203.0.113.7', zone: 'z1', extra: 'x' });
  });
});
