/** A MachineSession over SSH with one exec channel per step, where no remote shell can start. */
import { sessionSuite } from './session-suite.js';

sessionSuite(false);
