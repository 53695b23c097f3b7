/**
 * The services of a run: their rows, written from the plan; their current
 * records, kept in memory and written through; the moves between states,
 * checked against the table of legal transitions; and the transition log.
 */
import type { Plan } from '../plan/model.js';
import type { GroupCommit } from './group-commit.js';
import {
  type ServiceRecord,
  type ServiceRow,
  type TransitionFields,
  type TransitionRecord,
  type TransitionRow,
  toRecord,
  toTransitionRecord,
} from './records.js';
import type { RunDatabase } from './run-database.js';
import type { ServiceState } from './service-state.js';
import { checkTransition } from './service-transitions.js';

/**
 * Stores `plan` as the run's plan, with a `pending` row for each of its new
 * services and the level and position of the others updated (call it inside
 * a transaction).
 */
export function storePlan(db: RunDatabase, plan: Plan, now: number): void {
  db.setMeta('plan', JSON.stringify(plan));
  const insert = db.sql(
    `INSERT INTO services (name, level, position, state, updated_at) VALUES (?, ?, ?, 'pending', ?)
     ON CONFLICT(name) DO UPDATE SET level = excluded.level, position = excluded.position`,
  );
  let position = 0;
  for (const level of plan.levels) {
    for (const service of level.services) insert.run(service.name, level.level, position++, now);
  }
}

/** The columns a transition sets, and their values, by column name. */
function changes(
  name: string,
  to: ServiceState,
  fields: TransitionFields,
  now: number,
): { sets: string[]; params: Record<string, unknown> } {
  const sets = ['state = @state', 'updated_at = @updated_at'];
  const params: Record<string, unknown> = { name, state: to, updated_at: now };
  if (fields.driver !== undefined) {
    sets.push('driver = @driver');
    params.driver = fields.driver;
  }
  if (fields.launchToken !== undefined) {
    sets.push('launch_token = @launch_token');
    params.launch_token = fields.launchToken;
  }
  if (fields.instanceId !== undefined) {
    sets.push('instance_id = @instance_id');
    params.instance_id = fields.instanceId;
  }
  if (fields.hostname !== undefined) {
    sets.push('hostname = @hostname');
    params.hostname = fields.hostname;
  }
  if (fields.contextualized !== undefined) {
    sets.push('contextualized = @contextualized');
    params.contextualized = fields.contextualized ? 1 : 0;
  }
  if (fields.published !== undefined) {
    sets.push('published = @published');
    params.published = JSON.stringify(fields.published);
  }
  if (fields.machineAttributes !== undefined) {
    sets.push('machine_attributes = @machine_attributes');
    params.machine_attributes = JSON.stringify(fields.machineAttributes);
  }
  if (fields.failure !== undefined || to !== 'failed') {
    const failure = to === 'failed' ? (fields.failure ?? null) : null;
    sets.push(
      'failed_phase = @failed_phase',
      'failure = @failure',
      'stdout_tail = @stdout_tail',
      'stderr_tail = @stderr_tail',
    );
    params.failed_phase = failure?.phase ?? null;
    params.failure = failure?.message ?? null;
    params.stdout_tail = failure?.stdoutTail ?? null;
    params.stderr_tail = failure?.stderrTail ?? null;
  }
  return { sets, params };
}

/** The services of one run database handle. */
export class ServiceTable {
  readonly #db: RunDatabase;
  readonly #group: GroupCommit;
  /**
   * Every service's row and record in plan order, as this handle last wrote
   * or read them; read from the database on first use and after
   * {@link reload}. Only the holder of the run's lock writes services, and it
   * rereads them when an operation starts, so a move starts from these.
   */
  #services: Map<string, { row: ServiceRow; record: ServiceRecord }> | undefined;

  constructor(db: RunDatabase, group: GroupCommit) {
    this.#db = db;
    this.#group = group;
  }

  /** Every service's current record, in plan order. */
  all(): ServiceRecord[] {
    return [...this.#current().values()].map((s) => s.record);
  }

  /** One service's current record. */
  get(name: string): ServiceRecord | undefined {
    return this.#current().get(name)?.record;
  }

  /** Forgets the records held in memory: the next read takes them from the database. */
  reload(): void {
    this.#services = undefined;
  }

  /** Removes the rows of services no longer in the plan. */
  forget(names: readonly string[]): void {
    const del = this.#db.sql('DELETE FROM services WHERE name = ?');
    this.#group.write(() => {
      for (const name of names) del.run(name);
    });
    this.#services = undefined;
  }

  #current(): Map<string, { row: ServiceRow; record: ServiceRecord }> {
    if (this.#services === undefined) {
      const rows = this.#db
        .sql('SELECT * FROM services ORDER BY level, position')
        .all() as ServiceRow[];
      this.#services = new Map(rows.map((row) => [row.name, { row, record: toRecord(row) }]));
    }
    return this.#services;
  }

  /**
   * Moves a service to `to`, setting the given fields, and logs the
   * transition, in the group transaction.
   * @throws IllegalTransitionError when the table of legal transitions does
   *   not allow the move, or the move lacks a field the table says it
   *   records; nothing is written.
   */
  transition(name: string, to: ServiceState, fields: TransitionFields): ServiceRecord {
    const services = this.#current();
    const before = services.get(name)?.row;
    if (before === undefined) throw new Error(`unknown service ${name}`);
    checkTransition(name, before.state, to, fields);
    const apply = () => {
      const now = Date.now();
      const { sets, params } = changes(name, to, fields, now);
      this.#db.sql(`UPDATE services SET ${sets.join(', ')} WHERE name = @name`).run(params);
      this.#db
        .sql(
          'INSERT INTO transitions (service, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, ?)',
        )
        .run(name, before.state, to, now, fields.detail ?? null);
      // The row as written, without reading it back (every parameter is a column).
      return { ...before, ...params } as ServiceRow;
    };
    const row = this.#group.write(apply);
    const record = toRecord(row);
    services.set(name, { row, record });
    return record;
  }

  /** The transition log, oldest first (optionally of one service). */
  log(service?: string): TransitionRecord[] {
    const rows = (
      service === undefined
        ? this.#db.sql('SELECT * FROM transitions ORDER BY id').all()
        : this.#db.sql('SELECT * FROM transitions WHERE service = ? ORDER BY id').all(service)
    ) as TransitionRow[];
    return rows.map(toTransitionRecord);
  }
}
