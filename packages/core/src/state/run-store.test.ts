import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { RunDatabaseError, RunExistsError, RunLockedError, RunNotFoundError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { listRunNames, RunStore, runDatabasePath } from './run-store.js';

const source = { file: '/plan/l1.conf', line: 1, section: 'svc-a' };
const plan: Plan = {
  topFile: '/plan/top.conf',
  globals: {},
  levels: [
    {
      level: 1,
      file: '/plan/l1.conf',
      services: [{ name: 'a', level: 1, source, keys: {}, deps: {} }],
    },
    {
      level: 2,
      file: '/plan/l2.conf',
      services: [{ name: 'b', level: 2, source, keys: {}, deps: {} }],
    },
  ],
};

let dirs: string[] = [];
const newDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloudboot-store-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

describe('RunStore', () => {
  it('creates one private file per run, complete, and refuses a second run of that name', () => {
    const dir = newDir();
    const store = RunStore.create(dir, 'r1', plan);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.new'))).toEqual([]);
    expect(listRunNames(dir)).toEqual(['r1']);
    expect(store.services().map((s) => [s.name, s.level, s.state])).toEqual([
      ['a', 1, 'pending'],
      ['b', 2, 'pending'],
    ]);
    expect(() => RunStore.create(dir, 'r1', plan)).toThrow(RunExistsError);
    expect(() => RunStore.open(dir, 'nope')).toThrow(RunNotFoundError);
    store.close();
  });

  it('commits every transition with its fields and logs it', () => {
    const dir = newDir();
    const store = RunStore.create(dir, 'r2', plan);
    store.recordLaunchIntent('a', 'ec2', 'tok-1', true);
    store.recordLaunched('a', 'tok-1', 'i-123');
    store.transition('a', 'addressed', { hostname: '10.0.0.1' });
    store.transition('a', 'failed', {
      failure: {
        phase: 'ready',
        message: 'ready program exited 1',
        stdoutTail: 'o',
        stderrTail: 'e',
      },
    });
    store.close();

    const again = RunStore.open(dir, 'r2');
    expect(again.service('a')).toMatchObject({
      state: 'failed',
      driver: 'ec2',
      launchToken: 'tok-1',
      instanceId: 'i-123',
      hostname: '10.0.0.1',
      failure: {
        phase: 'ready',
        message: 'ready program exited 1',
        stdoutTail: 'o',
        stderrTail: 'e',
      },
    });
    expect(again.transitions('a').map((t) => `${t.from}->${t.to}`)).toEqual([
      'pending->launching',
      'launching->launched',
      'launched->addressed',
      'addressed->failed',
    ]);
    expect(again.instances()).toMatchObject([
      { token: 'tok-1', service: 'a', driver: 'ec2', instanceId: 'i-123', terminatedAt: null },
    ]);
    // Leaving `failed` clears the failure.
    expect(again.transition('a', 'ready').failure).toBeNull();
    again.close();
  });

  it('locks a run against other holders and takes over the lock of a dead process', () => {
    const dir = newDir();
    const first = RunStore.create(dir, 'r3', plan);
    const second = RunStore.open(dir, 'r3');
    first.lock('boot');
    expect(() => second.lock('status')).toThrow(RunLockedError);
    first.unlock();
    second.lock('status');
    second.unlock();

    // A holder that died without unlocking.
    const dead = spawnSync('true').pid;
    const raw = new Database(first.file);
    raw
      .prepare(
        'INSERT INTO run_lock (id, pid, host, owner, operation, acquired_at) VALUES (1, ?, ?, ?, ?, ?)',
      )
      .run(dead, hostname(), 'gone', 'boot', Date.now());
    raw.close();
    expect(() => second.lock('resume')).not.toThrow();
    expect(() => first.lock('status')).toThrow(/Run "r3" is in use by "resume" \(pid \d+ on /);
    first.close();
    second.close();
  });

  it('stores command-line globals, merging later ones over earlier ones', () => {
    const dir = newDir();
    const store = RunStore.create(dir, 'r4', plan);
    store.storeGlobals({ a: '1', b: '2' });
    store.storeGlobals({ b: '3' });
    expect(store.storedGlobals()).toEqual({ a: '1', b: '3' });
    store.close();
  });
});

describe('RunStore.open on a file that is not a run database', () => {
  it('names the file of another program, its tables untouched and the file still in its journal mode', () => {
    const dir = newDir();
    const file = runDatabasePath(dir, 'other');
    const other = new Database(file);
    other.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep')");
    other.close();
    expect(() => RunStore.open(dir, 'other')).toThrow(
      new RunDatabaseError(
        file,
        `${file} is not a cloudboot run database (no such table: meta); expected a file made by cloudboot`,
      ),
    );
    const check = new Database(file, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(check.prepare('SELECT text FROM notes').pluck().all()).toEqual(['keep']);
    check.close();
  });

  it('names a file with an empty meta table', () => {
    const dir = newDir();
    const file = runDatabasePath(dir, 'bare');
    const bare = new Database(file);
    bare.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    bare.close();
    expect(() => RunStore.open(dir, 'bare')).toThrow(
      `${file} is not a cloudboot run database (it records no schema version); expected a file made by cloudboot`,
    );
  });
});

describe('RunStore.transition while another process writes', () => {
  it('waits for the other writer instead of failing with SQLITE_BUSY', async () => {
    const dir = newDir();
    const store = RunStore.create(dir, 'busy', plan);
    // Another process takes the write lock for a moment, as a command taking the run's lock does.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = require('better-sqlite3')(process.argv[1]);
         db.prepare('BEGIN IMMEDIATE').run();
         console.log('locked');
         setTimeout(() => { db.prepare('COMMIT').run(); db.close(); }, 400);`,
        store.file,
      ],
      { cwd: dirname(fileURLToPath(import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    expect(
      store.transition('a', 'launching', { driver: 'static-ip', launchToken: 't' }).state,
    ).toBe('launching');
    expect(await exited).toBe(0);
    store.close();
  });
});

describe('stored inputs', () => {
  it('keeps each content once, by path, and points a path at its new content', () => {
    const dir = newDir();
    const store = RunStore.create(dir, 'inputs', plan);
    store.storeInputs([
      ['/plan/ready.sh', Buffer.from('#!/bin/sh\nexit 0\n')],
      ['/plan/stop.sh', Buffer.from('#!/bin/sh\nexit 0\n')],
    ]);
    store.storeInputs([['/plan/stop.sh', Buffer.from('#!/bin/sh\nexit 1\n')]]);
    expect(store.input('/plan/ready.sh')?.toString()).toBe('#!/bin/sh\nexit 0\n');
    expect(store.input('/plan/stop.sh')?.toString()).toBe('#!/bin/sh\nexit 1\n');
    expect(store.input('/plan/other.sh')).toBeUndefined();
    store.close();
    const db = new Database(join(dir, 'cloudboot-inputs.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM blobs').get()).toEqual({ n: 2 });
    db.close();
  });
});

describe('RunStore.open of a database made by an older version', () => {
  it('adds the missing columns once, however many processes open it at the same moment', async () => {
    const dir = newDir();
    RunStore.create(dir, 'old', plan).close();
    const db = new Database(runDatabasePath(dir, 'old'));
    db.exec('ALTER TABLE services DROP COLUMN machine_attributes');
    db.exec('ALTER TABLE instances DROP COLUMN replaces');
    db.close();
    const store = join(dirname(fileURLToPath(import.meta.url)), 'run-store.ts');
    const script = `import { RunStore } from ${JSON.stringify(store)}; RunStore.open(process.argv[1], 'old').close();`;
    const opens = Array.from(
      { length: 6 },
      () =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', '--input-type=module', '-e', script, dir],
            { stdio: ['ignore', 'ignore', 'pipe'] },
          );
          let stderr = '';
          child.stderr.on('data', (c: Buffer) => {
            stderr += c.toString();
          });
          child.on('exit', (code) => resolve({ code, stderr }));
        }),
    );
    expect(await Promise.all(opens)).toEqual(Array(6).fill({ code: 0, stderr: '' }));
    const reopened = new Database(runDatabasePath(dir, 'old'), { readonly: true });
    const columns = (table: string) =>
      (reopened.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
    expect(columns('services')).toContain('machine_attributes');
    expect(columns('instances')).toContain('replaces');
    reopened.close();
  });
});
