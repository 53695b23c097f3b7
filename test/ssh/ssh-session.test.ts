/** A MachineSession over SSH through the long-lived remote shell (see session-suite.ts). */
import { sessionSuite } from './session-suite.js';

sessionSuite(true);
