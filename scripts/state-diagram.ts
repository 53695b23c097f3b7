/**
 * Writes the service state machine (diagram, states, transitions), generated
 * from the table of legal transitions in
 * packages/core/src/state/service-transitions.ts, into docs/state-machine.md
 * between its markers. Run by `pnpm diagram`; a test fails while the
 * committed document differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withStateMachine } from '../packages/core/src/state/state-diagram.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'state-machine.md');
const before = readFileSync(file, 'utf8');
const after = withStateMachine(before);
if (after === before) {
  console.log(`${file} is up to date`);
} else {
  writeFileSync(file, after, { mode: 0o644 });
  console.log(`wrote ${file}`);
}
