/**
 * The driver contract: the small surface an IaaS (or "existing machine")
 * provider implements. Drivers stay thin; retries, rate limits, waiting for
 * `running` and timeouts live once in core (see `managed-driver.ts`).
 */
import type { DriverErrorKind } from '../errors.js';

/**
 * The one state type every driver maps its native states onto.
 * - `pending`: being created or booting; not usable yet.
 * - `running`: up; addresses may be known.
 * - `stopping`: shutting down or being terminated.
 * - `stopped`: exists but is not running (can be started again by the cloud).
 * - `terminated`: gone, by request.
 * - `vanished`: the cloud does not know this id (never existed, or purged).
 */
export type InstanceState =
  | 'pending'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'terminated'
  | 'vanished';

/** Every {@link InstanceState}, for conformance checks of drivers' state maps. */
export const INSTANCE_STATES: readonly InstanceState[] = [
  'pending',
  'running',
  'stopping',
  'stopped',
  'terminated',
  'vanished',
];

/** What the cloud says about one instance. */
export interface InstanceInfo {
  readonly instanceId: string;
  readonly state: InstanceState;
  /** The provider's own state name, for display. */
  readonly nativeState: string;
  /** Address to reach the machine from here (public, or private where that is preferred). */
  readonly address?: string;
  readonly publicAddress?: string;
  readonly privateAddress?: string;
  /** Tags/labels/metadata on the instance, when the provider reports them. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Further facts about a launched machine that core publishes as attributes
   * of its service once the machine is addressed (`${db.availability_zone}`), e.g.
   * `public_dns`, `private_dns`, `zone`, `availability_zone`. Core publishes
   * `public_ip` and `private_ip` itself from the addresses above; a name
   * cloudboot reserves (`hostname`, `instance_id`, a plan key) is ignored.
   */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** What to launch. Drivers read provider-specific keys from `options`. */
export interface LaunchSpec {
  /** Service name (for naming the instance). */
  readonly service: string;
  readonly image?: string;
  /** Instance type / flavour / machine type. */
  readonly allocation?: string;
  /** An existing machine (static-ip driver). */
  readonly hostname?: string;
  /** Key pair known to the cloud. */
  readonly keyName?: string;
  readonly securityGroups: readonly string[];
  /** Every resolved key of the service, for provider-specific settings (zone, network …). */
  readonly options: Readonly<Record<string, string>>;
}

/** Per-launch context. */
export interface LaunchContext {
  /**
   * Idempotency token, recorded before the call. Launching twice with the
   * same token must not create a second instance (EC2 ClientToken, GCE requestId).
   */
  readonly token: string;
  /** Tags to put on the instance: at least `cloudboot-run`, `cloudboot-service`, `cloudboot-token`. */
  readonly tags: Readonly<Record<string, string>>;
  /**
   * True when no earlier call can have reached the cloud with this token:
   * the token was made for this call, which is not a retry. A driver whose
   * cloud has no idempotency token may then skip looking for an instance
   * an earlier call made. Absent or false: an earlier call (a resumed launch,
   * a retry after a lost answer) may have made one.
   */
  readonly firstCall?: boolean;
  readonly signal?: AbortSignal;
}

/** Context for calls other than launch. */
export interface CallContext {
  readonly signal?: AbortSignal;
}

/**
 * The account's pace, as a driver that paces its own requests sees it
 * ({@link Driver.usePace}).
 */
export interface RequestPace {
  /**
   * Sends one API request in the account's pace: waits for its turn (at
   * least `1/api_calls_per_second` after the previous request, longer while
   * the cloud throttles), runs `send`, and tells the pace how the cloud
   * answered (when `send` throws, by the kind `options.kindOf` gives). A
   * throttled request is sent again, after a backoff or the cloud's
   * `Retry-After` (a `retryAfterMs` property of what `send` threw).
   * @throws the signal's reason when aborted while waiting (nothing is sent),
   *   else what `send` threw last.
   */
  request<T>(send: () => Promise<T>, options: PacedRequestOptions): Promise<T>;
}

/** How a driver sends one request through its {@link RequestPace}. */
export interface PacedRequestOptions {
  /** Stops waiting for the request's turn (nothing is sent then). */
  readonly signal?: AbortSignal;
  /**
   * The kind of failure a request that threw `error` met: `throttled` slows
   * the pace, `transient` (no answer) says nothing about it, any other kind
   * is an answer like a success.
   */
  readonly kindOf: (error: unknown) => DriverErrorKind;
}

/** Optional abilities of a driver. */
export interface DriverCapabilities {
  /** False for drivers of existing machines: `terminate` only forgets them. */
  readonly launchesMachines: boolean;
  /** True when {@link Driver.findByTags} is implemented (orphan search without recorded ids). */
  readonly findsByTags: boolean;
}

/**
 * One provider account/endpoint. Constructing a driver does no I/O.
 *
 * Every method rejects with `DriverError` (with a `kind`) on failure.
 */
export interface Driver {
  /** Driver name, e.g. `ec2`, `static-ip`. */
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Creates (or, for existing machines, adopts) one instance.
   * Idempotent for the same `token`: a repeated call returns the same id.
   * If it rejects, nothing was created, or the error's `instanceId` names
   * what was partially created.
   */
  launch(spec: LaunchSpec, context: LaunchContext): Promise<{ instanceId: string }>;
  /**
   * Describes instances, in one batched call per account/region where the
   * provider allows. Returns one entry per requested id, in order; an id the
   * provider does not know is reported as `vanished`, not as an error.
   */
  describe(instanceIds: readonly string[], context?: CallContext): Promise<InstanceInfo[]>;
  /** Requests termination. Safe to call twice and for ids that are already gone. */
  terminate(instanceIds: readonly string[], context?: CallContext): Promise<void>;
  /** Checks credentials and endpoint without launching anything. */
  validate(context?: CallContext): Promise<void>;
  /** Instances carrying all the given tags (only when `capabilities.findsByTags`). */
  findByTags?(
    tags: Readonly<Record<string, string>>,
    context?: CallContext,
  ): Promise<InstanceInfo[]>;
  /**
   * Optional, for drivers whose calls make several API requests (a lookup,
   * the create, a wait; a delete per instance): takes the account's pace,
   * once, before any call. The driver then sends every API request through
   * {@link RequestPace.request}, so `api_calls_per_second` limits requests
   * as the cloud counts them. A request the cloud answers "slow down" is
   * sent again, in its turn, until the account's retry budget is spent (the
   * cloud did not act on it), so `send` must be safe to repeat then. A
   * driver without `usePace` has each call of this interface paced as one
   * request.
   */
  usePace?(pace: RequestPace): void;
}

/**
 * Settings a driver is created with: the service/profile keys that select an
 * account and endpoint (`iaas`, `iaas_url`, `iaas_key`, `iaas_secret`, and
 * driver-specific ones). Secrets arrive resolved here and must not be logged.
 */
export type DriverSettings = Readonly<Record<string, string>>;

/** Creates a driver. Must not do I/O. */
export type DriverFactory = (settings: DriverSettings) => Driver;

/** The shape a driver module must export (package or in-house module). */
export interface DriverModule {
  readonly createDriver: DriverFactory;
}
