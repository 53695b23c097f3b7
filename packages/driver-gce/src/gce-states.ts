/**
 * Compute Engine instance statuses (`Instance.status` in the Compute v1
 * API) and what each means for cloudboot. A deleted instance is not a
 * status: the API stops knowing it, which cloudboot calls `vanished`.
 */
import type { InstanceState } from '@cloudboot/core';

/** Every status the Compute v1 API documents for an instance. */
export const GCE_STATUSES = [
  'PENDING',
  'PROVISIONING',
  'STAGING',
  'RUNNING',
  'REPAIRING',
  'PENDING_STOP',
  'STOPPING',
  'SUSPENDING',
  'DEPROVISIONING',
  'STOPPED',
  'SUSPENDED',
  'TERMINATED',
] as const;

/** One Compute Engine instance status. */
export type GceStatus = (typeof GCE_STATUSES)[number];

/**
 * Status -> cloudboot state. Total over {@link GCE_STATUSES}.
 *
 * - `PENDING` (waiting for capacity), `PROVISIONING`, `STAGING`: `pending`.
 * - `REPAIRING`: `pending` — Compute Engine is moving the VM off a failed
 *   host and brings it back by itself.
 * - `PENDING_STOP`, `STOPPING`, `SUSPENDING`, `DEPROVISIONING`: `stopping`
 *   (`STOPPING` is also what a VM being deleted shows).
 * - `STOPPED`, `SUSPENDED`, `TERMINATED`: `stopped`. Compute Engine's
 *   `TERMINATED` is a stopped VM that still exists and can be started
 *   again, not a deleted one.
 */
export const GCE_STATE_MAP: Readonly<Record<GceStatus, InstanceState>> = {
  PENDING: 'pending',
  PROVISIONING: 'pending',
  STAGING: 'pending',
  RUNNING: 'running',
  REPAIRING: 'pending',
  PENDING_STOP: 'stopping',
  STOPPING: 'stopping',
  SUSPENDING: 'stopping',
  DEPROVISIONING: 'stopping',
  STOPPED: 'stopped',
  SUSPENDED: 'stopped',
  TERMINATED: 'stopped',
};

/**
 * The cloudboot state of a status string; a status newer than this list is
 * `pending` (still coming, so waiting goes on until its deadline).
 */
export function stateOf(status: string): InstanceState {
  return GCE_STATE_MAP[status as GceStatus] ?? 'pending';
}
