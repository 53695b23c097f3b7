/**
 * EC2's instance states and what each means in cloudboot's one state type.
 * EC2 documents six states (the `InstanceState.Name` of `DescribeInstances`).
 */
import type { InstanceState } from '@cloudboot/core';

/** Every state EC2 reports for an instance. */
export const EC2_NATIVE_STATES = [
  'pending',
  'running',
  'shutting-down',
  'terminated',
  'stopping',
  'stopped',
] as const;

/** One of {@link EC2_NATIVE_STATES}. */
export type Ec2NativeState = (typeof EC2_NATIVE_STATES)[number];

/**
 * EC2 state -> cloudboot state. `shutting-down` is an instance on its way to
 * `terminated`, so it counts as `stopping` (not as unknown); `stopped` EBS
 * instances still exist and can be started again.
 */
export const EC2_STATE_MAP: Readonly<Record<Ec2NativeState, InstanceState>> = {
  pending: 'pending',
  running: 'running',
  'shutting-down': 'stopping',
  terminated: 'terminated',
  stopping: 'stopping',
  stopped: 'stopped',
};

/**
 * The cloudboot state of an EC2 state name. A name EC2 may add in future is
 * reported as `pending` (it exists, and is not usable yet) rather than failing.
 */
export function ec2State(name: string | undefined): InstanceState {
  return Object.hasOwn(EC2_STATE_MAP, name ?? '')
    ? EC2_STATE_MAP[name as Ec2NativeState]
    : 'pending';
}
