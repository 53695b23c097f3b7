import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../plan/model.js';
import { RunStore, type TransitionFields } from './run-store.js';
import { type ServiceState, STATE_MEANINGS } from './service-state.js';
import { IllegalTransitionError, TRANSITIONS } from './service-transitions.js';

const STATES = Object.keys(STATE_MEANINGS) as ServiceState[];
const legal = (from: ServiceState, to: ServiceState) =>
  TRANSITIONS.some((r) => r.to === to && r.from.includes(from));

/** Fields that satisfy what the table says a move into `to` records. */
function fieldsFor(to: ServiceState): TransitionFields {
  switch (to) {
    case 'pending':
      return {
        launchToken: null,
        instanceId: null,
        hostname: null,
        contextualized: false,
        published: {},
        machineAttributes: {},
      };
    case 'launching':
      return { driver: 'static-ip', launchToken: 'tok' };
    case 'launched':
      return { instanceId: 'i-1' };
    case 'contextualizing':
      return { contextualized: false };
    case 'addressed':
      return { hostname: '127.0.0.1', machineAttributes: {} };
    case 'contextualized':
      return { contextualized: true, published: { k: 'v' } };
    case 'failed':
      return { failure: { phase: 'ready', message: 'exited 1', stdoutTail: '', stderrTail: '' } };
    default:
      return {};
  }
}

/** Legal moves from `pending` that lead to each state. */
const PATH: Readonly<Record<ServiceState, readonly ServiceState[]>> = {
  pending: [],
  launching: ['launching'],
  launched: ['launching', 'launched'],
  addressed: ['launching', 'launched', 'addressed'],
  reachable: ['launching', 'launched', 'addressed', 'reachable'],
  contextualizing: ['launching', 'launched', 'addressed', 'reachable', 'contextualizing'],
  contextualized: [
    'launching',
    'launched',
    'addressed',
    'reachable',
    'contextualizing',
    'contextualized',
  ],
  ready: [
    'launching',
    'launched',
    'addressed',
    'reachable',
    'contextualizing',
    'contextualized',
    'ready',
  ],
  failed: ['failed'],
  terminating: ['launching', 'terminating'],
  terminated: ['terminated'],
};

const pairs = STATES.flatMap((from) => STATES.map((to) => [from, to] as const));
const legalPairs = pairs.filter(([from, to]) => legal(from, to));
const illegalPairs = pairs.filter(([from, to]) => !legal(from, to));

/** Missing or wrong fields for moves the table allows. */
const WITHOUT: ReadonlyArray<
  readonly [ServiceState, ServiceState, TransitionFields, string, string]
> = [
  [
    'pending',
    'launching',
    { driver: 'ec2' },
    'launchToken is not given (the move records it: set)',
    'without a token',
  ],
  [
    'pending',
    'launching',
    { launchToken: 'tok' },
    'driver is not given (the move records it: set)',
    'without a driver',
  ],
  [
    'launching',
    'launched',
    { instanceId: null },
    'instanceId is null (the move records it: set)',
    'without an instance id',
  ],
  [
    'launched',
    'addressed',
    { machineAttributes: {} },
    'hostname is not given (the move records it: given)',
    'without hostname',
  ],
  [
    'pending',
    'failed',
    {},
    'failure is not given (the move records it: set)',
    'without a failure record',
  ],
  [
    'contextualizing',
    'contextualized',
    { contextualized: false, published: {} },
    'contextualized is not true (the move records it: true)',
    'without contextualized=true',
  ],
  [
    'failed',
    'contextualizing',
    {},
    'contextualized is not given (the move records it: cleared)',
    'that leaves the service contextualized',
  ],
  [
    'terminated',
    'pending',
    { ...fieldsFor('pending'), instanceId: 'i-1' },
    'instanceId is not cleared (the move records it: cleared)',
    'keeping the old instance',
  ],
];

describe('the table of legal transitions', () => {
  let dir: string;
  let store: RunStore;
  /** A service of the run, for each case, moved along PATH to `from`. */
  const services = [
    ...legalPairs.map(([f, t]) => `ok-${f}-${t}`),
    ...illegalPairs.map(([f, t]) => `no-${f}-${t}`),
    ...WITHOUT.map((_, i) => `without-${i}`),
  ];
  const at = (name: string, from: ServiceState) => {
    for (const to of PATH[from]) store.transition(name, to, fieldsFor(to));
    expect(store.service(name)?.state).toBe(from);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cloudboot-transitions-'));
    const source = { file: '/plan/l1.conf', line: 1, section: 's' };
    const plan: Plan = {
      topFile: '/plan/top.conf',
      globals: {},
      levels: [
        {
          level: 1,
          file: '/plan/l1.conf',
          services: services.map((name) => ({ name, level: 1, source, keys: {}, deps: {} })),
        },
      ],
    };
    store = RunStore.create(dir, 'machine', plan);
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every state as a target once, from states that exist', () => {
    expect(TRANSITIONS.map((r) => r.to).sort()).toEqual([...STATES].sort());
    for (const rule of TRANSITIONS) for (const f of rule.from) expect(STATES).toContain(f);
    // The only repeated steps: a boot program or a shutdown run again, a failure found again.
    expect(legalPairs.filter(([from, to]) => from === to).map(([s]) => s)).toEqual([
      'contextualizing',
      'failed',
      'terminating',
    ]);
    expect(legalPairs).toHaveLength(36);
  });

  it.each(legalPairs)('accepts %s -> %s and records what it carries', (from, to) => {
    const name = `ok-${from}-${to}`;
    at(name, from);
    const record = store.transition(name, to, { ...fieldsFor(to), detail: 'case' });
    expect(record.state).toBe(to);
    expect(store.service(name)).toEqual(record);
    expect(store.transitions(name).at(-1)).toMatchObject({ from, to, detail: 'case' });
  });

  it.each(illegalPairs)('refuses %s -> %s and writes nothing', (from, to) => {
    const name = `no-${from}-${to}`;
    at(name, from);
    const before = store.service(name);
    const logged = store.transitions(name).length;
    expect(() => store.transition(name, to, fieldsFor(to))).toThrow(
      new IllegalTransitionError(name, from, to, 'not a legal move'),
    );
    expect(store.service(name)).toEqual(before);
    expect(store.transitions(name)).toHaveLength(logged);
  });

  it.each(WITHOUT.map((c, i) => [c[4], i] as const))('refuses a move %s', (_what, i) => {
    const [from, to, fields, why] = WITHOUT[i] ?? [];
    const name = `without-${i}`;
    if (from === undefined || to === undefined || fields === undefined) throw new Error('case');
    at(name, from);
    const error = (() => {
      try {
        store.transition(name, to, fields);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect((error as Error).message).toBe(
      `illegal transition of service ${name} from ${from} to ${to}: ${why}`,
    );
    expect(store.service(name)?.state).toBe(from);
  });

  it('is a bug, not a user error: not a CloudbootError', async () => {
    const { CloudbootError } = await import('../errors.js');
    const error = new IllegalTransitionError('a', 'pending', 'ready', 'not a legal move');
    expect(error).not.toBeInstanceOf(CloudbootError);
    expect(error.message).toBe(
      'illegal transition of service a from pending to ready: not a legal move',
    );
  });
});
