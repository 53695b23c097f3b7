/**
 * `@cloudboot/core/ssh`: the pool of SSH connections, on its own entry point
 * so that importing `@cloudboot/core` does not load ssh2.
 */
export {
  SshPool,
  type SshPoolOptions,
  type SshSessionOptions,
} from './exec/ssh-pool.js';
