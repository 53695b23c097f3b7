import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TRANSITIONS } from './service-transitions.js';
import {
  compactStateDiagram,
  GENERATED_END,
  GENERATED_START,
  stateDiagram,
  stateMachineMarkdown,
  withReadmeDiagram,
  withStateMachine,
} from './state-diagram.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const DOC = join(ROOT, 'docs/state-machine.md');

describe('the state machine documentation', () => {
  it('is what `pnpm diagram` generates from the table now (run it after changing the table)', () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(doc).toContain(stateMachineMarkdown());
    expect(withStateMachine(doc)).toBe(doc);
  });

  it("is in the README's architecture section, compact: moves into failed and terminating listed under it", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(compactStateDiagram());
    expect(withReadmeDiagram(readme)).toBe(readme);
    const drawn = compactStateDiagram()
      .split('\n')
      .filter((line) => line.includes('-->') && !line.includes('[*]'))
      .map((line) => line.trim());
    const legal = TRANSITIONS.flatMap((r) => r.from.map((from) => `${from} --> ${r.to}`));
    const listed = legal.filter((move) => !drawn.includes(move));
    expect(listed.every((move) => / --> (failed|terminating)$/.test(move))).toBe(true);
    for (const move of listed) {
      const [from, to] = move.split(' --> ');
      expect(compactStateDiagram()).toMatch(new RegExp(`to \`${to}\` from [^;]*\`${from}\``));
    }
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
