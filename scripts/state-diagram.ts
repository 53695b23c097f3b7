/**
 * Writes the service state machine (diagram, states, transitions), generated
 * from the table of legal transitions in
 * packages/core/src/state/service-transitions.ts, into docs/state-machine.md
 * and a compact diagram into README.md, each between its markers. Run by
 * `pnpm diagram`; a test fails while a committed document differs from what
 * this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withReadmeDiagram, withStateMachine } from '../packages/core/src/state/state-diagram.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [file, generate] of [
  [join(root, 'docs', 'state-machine.md'), withStateMachine],
  [join(root, 'README.md'), withReadmeDiagram],
] as const) {
  const before = readFileSync(file, 'utf8');
  const after = generate(before);
  if (after === before) {
    console.log(`${file} is up to date`);
  } else {
    writeFileSync(file, after, { mode: 0o644 });
    console.log(`wrote ${file}`);
  }
}
