/**
 * `@cloudboot/driver-static-ip`: machines that already exist, named by
 * hostname or IP address. Nothing is launched and nothing is terminated at
 * the IaaS level; "launch" adopts the machine after checking that its name
 * resolves, and "terminate" only forgets it.
 *
 * This is the reference implementation of the driver contract.
 */
export { createDriver, STATIC_IP_DRIVER_NAME } from './static-ip-driver.js';
