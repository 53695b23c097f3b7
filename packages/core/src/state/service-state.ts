/**
 * The per-service state machine (BRIEF §4). Every transition is committed to
 * the run's database before the side effect it leads to.
 */

/**
 * - `pending`: nothing done yet.
 * - `launching`: a launch with a recorded token is about to be (or was) sent to the cloud.
 * - `launched`: the cloud returned an instance id.
 * - `addressed`: the instance is running and its hostname/address is known.
 * - `reachable`: programs can be run on the machine (SSH works, or local).
 * - `contextualizing`: the boot program is being installed or run.
 * - `contextualized`: the boot program succeeded; its published attributes are stored.
 * - `ready`: the ready program exited 0.
 * - `failed`: a phase failed; see the failure record.
 * - `terminating`: shutdown started (terminate program, then VM termination).
 * - `terminated`: shut down; the VM, if cloudboot launched it, is terminated.
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
