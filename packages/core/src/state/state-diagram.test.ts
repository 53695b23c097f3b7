import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TRANSITIONS } from './service-transitions.js';
import {
  GENERATED_END,
  GENERATED_START,
  stateDiagram,
  stateMachineMarkdown,
  withStateMachine,
} from './state-diagram.js';

const DOC = join(dirname(fileURLToPath(import.meta.url)), '../../../../docs/state-machine.md');

describe('the state machine documentation', () => {
  it('is what `pnpm diagram` generates from the table now (run it after changing the table)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc).toContain(stateMachineMarkdown());
    expect(withStateMachine(doc)).toBe(doc);
  });

  it('draws exactly the legal moves, and the guarding states bold', () => {
    const edges = stateDiagram()
      .split('\n')
      .filter((line) => line.includes('-->') && !line.includes('[*]'))
      .map((line) => line.trim());
    const legal = TRANSITIONS.flatMap((r) => r.from.map((from) => `${from} --> ${r.to}`));
    expect([...edges].sort()).toEqual([...legal].sort());
    expect(stateDiagram()).toContain('    class launching,contextualizing,terminating guarding');
  });

  it('replaces only the part between the markers, and refuses a document without them', () => {
    const doc = `# Title\n\nprose\n\n${GENERATED_START}\nold\n${GENERATED_END}\n\nmore prose\n`;
    expect(withStateMachine(doc)).toBe(
      `# Title\n\nprose\n\n${stateMachineMarkdown()}\n\nmore prose\n`,
    );
    expect(() => withStateMachine('# Title\n')).toThrow(/has no generated part/);
  });
});
