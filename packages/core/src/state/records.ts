/**
 * What a run database holds about services, instances, transitions and
 * programs: the records the run store returns, and the rows they are read
 * from.
 */
import type { ServicePhase } from '../errors.js';
import type { ServiceState } from './service-state.js';

/** What the database knows about one service. */
export interface ServiceRecord {
  readonly name: string;
  readonly level: number;
  readonly state: ServiceState;
  /** Driver that owns the instance (`static-ip`, `ec2` …). */
  readonly driver: string | null;
  /** Idempotency token of the launch in progress or done. */
  readonly launchToken: string | null;
  readonly instanceId: string | null;
  readonly hostname: string | null;
  /** True once the boot program succeeded (and its attributes are stored). */
  readonly contextualized: boolean;
  /** Attributes the boot program published through `bootout.json`. */
  readonly published: Readonly<Record<string, string>>;
  /** Attributes of the machine, from the cloud once it was addressed (`public_ip` …). */
  readonly machineAttributes: Readonly<Record<string, string>>;
  readonly failure: ServiceFailure | null;
  /** Milliseconds since the epoch of the last transition. */
  readonly updatedAt: number;
}

/** Why a service is in state `failed`. */
export interface ServiceFailure {
  readonly phase: ServicePhase;
  readonly message: string;
  readonly stdoutTail: string;
  readonly stderrTail: string;
}

/** Fields a transition may set besides the state. */
export interface TransitionFields {
  driver?: string;
  launchToken?: string | null;
  instanceId?: string | null;
  hostname?: string | null;
  contextualized?: boolean;
  published?: Readonly<Record<string, string>>;
  machineAttributes?: Readonly<Record<string, string>>;
  failure?: ServiceFailure | null;
  /** Free text for the transition log. */
  detail?: string;
}

/** One row of the transition log. */
export interface TransitionRecord {
  readonly service: string;
  readonly from: ServiceState;
  readonly to: ServiceState;
  readonly at: number;
  readonly detail: string | null;
}

/** A program recorded as started and not (yet) recorded as ended. */
export interface ProcessRecord {
  readonly id: number;
  /** Where it runs: `local` or `user@host:port`. */
  readonly host: string;
  /** The value of `CLOUDBOOT_PROGRAM` in its environment. */
  readonly token: string;
  /** Plan key of the program (`bootpgm` …). */
  readonly program: string;
  /** Its process group, once known. */
  readonly pgid: number | null;
}

/** Every instance ever launched (or attempted) for the run. */
export interface InstanceRecord {
  readonly token: string;
  readonly service: string;
  readonly driver: string;
  /** Null when the launch was interrupted before the cloud answered. */
  readonly instanceId: string | null;
  readonly launchedAt: number;
  readonly terminatedAt: number | null;
  /** Token of the instance this one replaced (`repair` of a VM that was gone), if any. */
  readonly replaces: string | null;
  /** Token of the instance that replaced this one, if any. */
  readonly replacedBy: string | null;
}

/** A row of the `services` table. */
export interface ServiceRow {
  name: string;
  level: number;
  state: ServiceState;
  driver: string | null;
  launch_token: string | null;
  instance_id: string | null;
  hostname: string | null;
  contextualized: number;
  published: string;
  machine_attributes: string;
  failed_phase: ServicePhase | null;
  failure: string | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
  updated_at: number;
}

/** The record of a `services` row. */
export function toRecord(row: ServiceRow): ServiceRecord {
  return {
    name: row.name,
    level: row.level,
    state: row.state,
    driver: row.driver,
    launchToken: row.launch_token,
    instanceId: row.instance_id,
    hostname: row.hostname,
    contextualized: row.contextualized === 1,
    published: JSON.parse(row.published) as Record<string, string>,
    machineAttributes: JSON.parse(row.machine_attributes) as Record<string, string>,
    failure:
      row.failed_phase === null
        ? null
        : {
            phase: row.failed_phase,
            message: row.failure ?? '',
            stdoutTail: row.stdout_tail ?? '',
            stderrTail: row.stderr_tail ?? '',
          },
    updatedAt: row.updated_at,
  };
}

/** A row of the `instances` table, with the token of the instance that replaced it. */
export interface InstanceRow {
  token: string;
  service: string;
  driver: string;
  instance_id: string | null;
  launched_at: number;
  terminated_at: number | null;
  replaces: string | null;
  replaced_by: string | null;
}

/** The record of an `instances` row. */
export function toInstanceRecord(r: InstanceRow): InstanceRecord {
  return {
    token: r.token,
    service: r.service,
    driver: r.driver,
    instanceId: r.instance_id,
    launchedAt: r.launched_at,
    terminatedAt: r.terminated_at,
    replaces: r.replaces,
    replacedBy: r.replaced_by,
  };
}

/** A row of the `transitions` table. */
export interface TransitionRow {
  service: string;
  from_state: ServiceState;
  to_state: ServiceState;
  at: number;
  detail: string | null;
}

/** The record of a `transitions` row. */
export function toTransitionRecord(r: TransitionRow): TransitionRecord {
  return {
    service: r.service,
    from: r.from_state,
    to: r.to_state,
    at: r.at,
    detail: r.detail,
  };
}
