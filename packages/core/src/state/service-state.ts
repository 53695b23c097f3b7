/**
 * The per-service state machine. Every transition is committed to
 * the run's database before the side effect it leads to.
 */

/**
 * The state of one service, as recorded in the run's database. What each
 * value means is in {@link STATE_MEANINGS}; which moves between them are
 * legal, and what is recorded with each, is in `service-transitions.ts`.
 */
export type ServiceState =
  | 'pending'
  | 'launching'
  | 'launched'
  | 'addressed'
  | 'reachable'
  | 'contextualizing'
  | 'contextualized'
  | 'ready'
  | 'failed'
  | 'terminating'
  | 'terminated';

/** What each state means, in the order a boot passes through them. */
export const STATE_MEANINGS: Readonly<Record<ServiceState, string>> = {
  pending:
    'nothing done yet (or everything undone: booted again after a shutdown, or replacing a machine that is gone).',
  launching: 'a launch with a recorded token is about to be (or was) sent to the cloud.',
  launched: 'the cloud returned an instance id.',
  addressed: 'the instance is running and its hostname/address is known.',
  reachable: 'programs can be run on the machine (SSH works, or local).',
  contextualizing: 'the boot program is being installed or run.',
  contextualized: 'the boot program succeeded; its published attributes are stored.',
  ready: 'the ready program exited 0.',
  failed: 'a phase failed; the failure record says which and why.',
  terminating: 'shutdown started (terminate program, then VM termination).',
  terminated: 'shut down; the VM, if cloudboot launched it, is terminated.',
};

/**
 * States whose transition guards a side effect, and so is committed before it:
 * `launching` (the cloud is asked for a machine), `contextualizing` (the
 * service's directory is made and its programs start), `terminating` (the
 * terminate program runs and the machine is terminated). Every other
 * transition records what already happened and may share the tick's group
 * commit with the writes of other services.
 */
export const GUARDING_STATES = ['launching', 'contextualizing', 'terminating'] as const;

/** A state whose transition guards a side effect; see {@link GUARDING_STATES}. */
export type GuardingState = (typeof GUARDING_STATES)[number];
