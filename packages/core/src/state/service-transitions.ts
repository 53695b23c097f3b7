/**
 * The legal moves of the per-service state machine: one table of
 * transitions (from, to, what is recorded with the move), which
 * {@link RunStore.transition} enforces. A move that is not in the table,
 * or that lacks what the table says it records, is a bug in cloudboot: it
 * throws {@link IllegalTransitionError} and nothing is written.
 */
import type { TransitionFields } from './records.js';
import type { ServiceState } from './service-state.js';

/** A field of a service's record that a transition may set. */
export type RecordedField = Exclude<keyof TransitionFields, 'detail'>;

/**
 * What a transition must do with a field:
 * - `set`: give it a value other than null;
 * - `given`: give it, null allowed (a local machine has no hostname);
 * - `cleared`: give it empty (null, false or `{}`);
 * - `true`: give it as true.
 */
export type FieldRule = 'set' | 'given' | 'cleared' | 'true';

/** One row of the table: the moves into `to`, and what they record. */
export interface TransitionRule {
  readonly to: ServiceState;
  /** The states `to` may be entered from (may include `to` itself: a repeated step). */
  readonly from: readonly ServiceState[];
  /** Fields that must be given with the move, and how. */
  readonly records: Readonly<Partial<Record<RecordedField, FieldRule>>>;
  /** When the move happens, for the documentation. */
  readonly when: string;
}

/** Every state but `terminated`: whatever a service is doing may fail or be shut down. */
const LIVE: readonly ServiceState[] = [
  'pending',
  'launching',
  'launched',
  'addressed',
  'reachable',
  'contextualizing',
  'contextualized',
  'ready',
  'failed',
  'terminating',
];

/**
 * The fields of a move back to `pending`: everything a boot learnt about the
 * machine, emptied, so the service starts over.
 */
export const STARTING_OVER = {
  launchToken: null,
  instanceId: null,
  hostname: null,
  contextualized: false,
  published: {},
  machineAttributes: {},
} as const satisfies TransitionFields;

/** What the table requires of a move back to `pending`: {@link STARTING_OVER}. */
const START_OVER: TransitionRule['records'] = Object.fromEntries(
  Object.keys(STARTING_OVER).map((field) => [field, 'cleared']),
);

/** The legal transitions, by target state. */
export const TRANSITIONS: readonly TransitionRule[] = [
  {
    to: 'pending',
    from: ['terminated', 'failed'],
    records: START_OVER,
    when: 'a terminated service is booted again, or repair replaces a machine the cloud says is gone (after recording that failure)',
  },
  {
    to: 'launching',
    from: ['pending', 'failed'],
    records: { driver: 'set', launchToken: 'set' },
    when: 'before the cloud is asked for a machine; a failed launch whose outcome is unknown is repeated with its recorded token',
  },
  {
    to: 'launched',
    from: ['launching'],
    records: { instanceId: 'set' },
    when: 'the cloud answered the launch with an instance id',
  },
  {
    to: 'addressed',
    from: ['launched', 'failed'],
    records: { hostname: 'given' },
    when: 'the instance runs and has an address (also when resuming a service that failed while waiting for it)',
  },
  {
    to: 'reachable',
    from: ['addressed'],
    records: {},
    when: 'a session to the machine is open',
  },
  {
    to: 'contextualizing',
    from: ['reachable', 'contextualizing', 'failed'],
    records: { contextualized: 'cleared' },
    when: 'before the service directory is made and the boot program starts; again when an interrupted boot program is resumed, or a failed service is restarted',
  },
  {
    to: 'contextualized',
    from: ['contextualizing'],
    records: { contextualized: 'true', published: 'set' },
    when: 'the boot program succeeded; what it published is stored',
  },
  {
    to: 'ready',
    from: ['contextualized', 'failed'],
    records: {},
    when: 'the ready program exited 0 (status and repair may find a failed service ready again)',
  },
  {
    to: 'failed',
    from: LIVE,
    records: { failure: 'set' },
    when: 'a phase failed, or a check found the service failed (again)',
  },
  {
    to: 'terminating',
    from: LIVE.filter((s) => s !== 'pending'),
    records: {},
    when: 'before the terminate program runs and the machine is terminated; again when an interrupted shutdown is repeated',
  },
  {
    to: 'terminated',
    from: ['terminating', 'pending', 'failed'],
    records: {},
    when: 'the machine is terminated or released; a service that never launched one is terminated at once',
  },
];

const RULES: ReadonlyMap<ServiceState, TransitionRule> = new Map(TRANSITIONS.map((r) => [r.to, r]));

/**
 * A state transition that the table of legal transitions does not allow:
 * a bug in cloudboot, not a problem of the user's plan or machines, so it is
 * not a `CloudbootError` (the CLI reports it as an internal error).
 */
export class IllegalTransitionError extends Error {
  constructor(
    readonly service: string,
    readonly from: ServiceState,
    readonly to: ServiceState,
    why: string,
  ) {
    super(`illegal transition of service ${service} from ${from} to ${to}: ${why}`);
    this.name = 'IllegalTransitionError';
  }
}

/** True when `value` is empty as {@link FieldRule} `cleared` means it. */
function isCleared(value: unknown): boolean {
  if (value === null || value === false) return true;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** Why `value` does not satisfy `rule`, or undefined when it does. */
function breaks(rule: FieldRule, value: unknown): string | undefined {
  if (value === undefined) return 'is not given';
  switch (rule) {
    case 'set':
      return value === null ? 'is null' : undefined;
    case 'given':
      return undefined;
    case 'cleared':
      return isCleared(value) ? undefined : 'is not cleared';
    case 'true':
      return value === true ? undefined : 'is not true';
  }
}

/**
 * Checks a move of `service` from `from` to `to` with `fields` against
 * {@link TRANSITIONS}.
 * @throws IllegalTransitionError when the move is not in the table or a field it records is missing.
 */
export function checkTransition(
  service: string,
  from: ServiceState,
  to: ServiceState,
  fields: TransitionFields,
): void {
  const rule = RULES.get(to);
  if (rule === undefined || !rule.from.includes(from)) {
    throw new IllegalTransitionError(service, from, to, 'not a legal move');
  }
  for (const [field, fieldRule] of Object.entries(rule.records) as Array<
    [RecordedField, FieldRule]
  >) {
    const why = breaks(fieldRule, fields[field]);
    if (why !== undefined) {
      throw new IllegalTransitionError(
        service,
        from,
        to,
        `${field} ${why} (the move records it: ${fieldRule})`,
      );
    }
  }
}
