/**
 * The loaded, validated form of a boot plan. Everything here is plain JSON so a
 * plan can be stored with its run and reopened later. Values stay raw
 * (`env.NAME`, `${svc.attr}` unresolved): substitution happens when a level
 * starts. Credentials never appear here: `env.NAME` stays a reference, and a
 * literal credential (`iaas_secret`, …) is replaced by {@link REDACTED} and read
 * again from its file when needed (see `secrets.ts`), so the plan can be
 * written to the run database as it is.
 */
import type { SourceLocation } from '../errors.js';

/** A raw value from a plan file and where it was written. */
export interface PlanValue {
  /**
   * The text after `key:`/`key =`, trimmed. Paths are already absolute (see
   * {@link PATH_KEYS}). {@link REDACTED} when `secret` is set.
   */
  readonly value: string;
  /** Set when `value` is a placeholder for a literal credential, to be read again from `source`. */
  readonly secret?: true;
  /** Where the value was written (file, line, section, key). */
  readonly source: SourceLocation;
}

/** Raw key/value pairs with lower-cased keys. */
export type PlanValues = Readonly<Record<string, PlanValue>>;

/** One service after `replica_count` expansion. */
export interface ServicePlan {
  /** Unique name across the plan: the section name without `svc-`, or `NAME-i` for replicas. */
  readonly name: string;
  /** 1-based level number. */
  readonly level: number;
  /** Where the `[svc-…]` section starts. */
  readonly source: SourceLocation;
  /**
   * Effective keys: service section > its cloud profile > `[defaults]`.
   * Does not include `deps*` or `replica_count` (they are consumed by the loader).
   */
  readonly keys: PlanValues;
  /** Attributes from the deps files, later files overriding earlier ones. */
  readonly deps: PlanValues;
}

/** One level: services that start together. */
export interface LevelPlan {
  /** 1-based level number (position in `[runlevels]` order). */
  readonly level: number;
  /** Absolute path of the level file. */
  readonly file: string;
  readonly services: readonly ServicePlan[];
}

/** A whole boot plan. */
export interface Plan {
  /** Absolute path of the top file. */
  readonly topFile: string;
  readonly levels: readonly LevelPlan[];
  /**
   * Globals merged by rank (`[globals]` < `-G FILE` < `-g KEY=VALUE`).
   * Values given on the command line carry `source.file` `<command line>`.
   */
  readonly globals: PlanValues;
  /**
   * Credential keys declared by the plan's driver modules beyond
   * {@link SECRET_KEYS} (in-house drivers), redacted like those.
   */
  readonly credentialKeys?: readonly string[];
}

/**
 * Keys whose values are file paths on this machine: resolved against the
 * directory of the file that names them, with `~` expanded, at load time.
 */
export const PATH_KEYS: ReadonlySet<string> = new Set([
  'bootconf',
  'bootpgm',
  'readypgm',
  'terminatepgm',
  'localsshkeypath',
  // A driver key (EC2's user data file), resolved like the program files.
  'user_data',
]);

/** Every service key cloudboot understands (the keys of cloudinit.d's plan format plus cloudboot's own). */
export const KNOWN_SERVICE_KEYS: ReadonlySet<string> = new Set([
  'image',
  'iaas',
  'iaas_url',
  'iaas_key',
  'iaas_secret',
  'allocation',
  'sshkeyname',
  'localsshkeypath',
  'ssh_username',
  'scp_username',
  'securitygroups',
  'hostname',
  'iaas_launch',
  'bootconf',
  'bootpgm',
  'bootpgm_args',
  'readypgm',
  'readypgm_args',
  'terminatepgm',
  'terminatepgm_args',
  'pgm_timeout',
  'local_exe',
  'cloud',
  'replica_count',
  'driver',
  'ssh_port',
  'workdir',
  'host_key',
  'api_calls_per_second',
  'api_retries',
]);

/**
 * Argument templates of the programs: split and substituted word by word
 * when the program runs (so they may use what the boot program published),
 * never resolved as a whole.
 */
export const PROGRAM_ARG_KEYS: ReadonlySet<string> = new Set([
  'bootpgm_args',
  'readypgm_args',
  'terminatepgm_args',
]);

/**
 * Keys whose values are credentials: never stored, logged or written out.
 * The credential keys of the built-in drivers (EC2, GCE, OpenStack), known
 * before any driver module is loaded; a driver module's own
 * `credentialKeys` extend them per plan (see {@link Plan.credentialKeys}).
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'iaas_key',
  'iaas_secret',
  'aws_session_token',
  'gce_access_token',
  'gce_credentials',
  'os_password',
  'os_application_credential_id',
  'os_application_credential_secret',
  'os_token',
]);

/** Text that stands in for a secret in logs and descriptions. */
export const REDACTED = '<redacted>';
