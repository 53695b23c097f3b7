/**
 * Nova server states (the `status` field of a server, Compute API v2.1) and
 * how each maps onto core's {@link InstanceState}.
 */
import type { InstanceState } from '@cloudboot/core';

/** Every server `status` Nova reports (Compute API reference, "Server Status"). */
export const OPENSTACK_NATIVE_STATES = [
  'BUILD',
  'ACTIVE',
  'SHUTOFF',
  'ERROR',
  'DELETED',
  'SOFT_DELETED',
  'REBOOT',
  'HARD_REBOOT',
  'REBUILD',
  'RESIZE',
  'VERIFY_RESIZE',
  'REVERT_RESIZE',
  'PASSWORD',
  'PAUSED',
  'SUSPENDED',
  'SHELVED',
  'SHELVED_OFFLOADED',
  'MIGRATING',
  'RESCUE',
  'UNKNOWN',
] as const;

/** One Nova server status. */
export type OpenstackNativeState = (typeof OPENSTACK_NATIVE_STATES)[number];

/**
 * The total map from Nova status to core state. A server that is coming up or
 * going through a reboot, rebuild or resize is `pending` (not usable yet, but
 * expected to be); one that exists but does not run our system (shut off,
 * paused, suspended, shelved, in rescue, or in ERROR) is `stopped`; a deleted
 * one (also soft-deleted: it only waits to be reclaimed) is `terminated`.
 * `UNKNOWN` means Nova lost contact with the compute host: the machine may
 * come back, so it counts as `pending` and core's wait deadline decides.
 */
export const OPENSTACK_STATE_MAP: Readonly<Record<OpenstackNativeState, InstanceState>> = {
  BUILD: 'pending',
  ACTIVE: 'running',
  SHUTOFF: 'stopped',
  ERROR: 'stopped',
  DELETED: 'terminated',
  SOFT_DELETED: 'terminated',
  REBOOT: 'pending',
  HARD_REBOOT: 'pending',
  REBUILD: 'pending',
  RESIZE: 'pending',
  VERIFY_RESIZE: 'running',
  REVERT_RESIZE: 'pending',
  PASSWORD: 'running',
  PAUSED: 'stopped',
  SUSPENDED: 'stopped',
  SHELVED: 'stopped',
  SHELVED_OFFLOADED: 'stopped',
  MIGRATING: 'running',
  RESCUE: 'stopped',
  UNKNOWN: 'pending',
};

/**
 * The core state of a server from its status and task state. A server being
 * deleted keeps its status (often `ACTIVE`) with task state `deleting`, so
 * that counts as `stopping`. A status newer than this list is `pending`: the
 * wait deadline then decides rather than a guess.
 */
export function openstackState(status: string, taskState?: string | null): InstanceState {
  if (taskState === 'deleting' && status !== 'DELETED' && status !== 'SOFT_DELETED') {
    return 'stopping';
  }
  return OPENSTACK_STATE_MAP[status as OpenstackNativeState] ?? 'pending';
}
