/**
 * The subset of Compute Engine's list `filter` syntax the fake understands:
 * one unparenthesised comparison, or several parenthesised ones (all must
 * hold). Operators `=`/`!=` compare literally; `eq`/`ne` match the whole
 * field against an RE2-style regular expression (JavaScript's is close
 * enough for the patterns clients send). Fields: `name`, `status`, `id`,
 * `labels.KEY`.
 */

/** One comparison of a filter. */
interface Comparison {
  readonly field: string;
  readonly op: '=' | '!=' | 'eq' | 'ne';
  readonly value: string;
}

/** A parsed filter: a predicate over an instance's filterable fields. */
export type FieldMatcher = (fields: (field: string) => string | undefined) => boolean;

const COMPARISON =
  /^\s*([A-Za-z][\w.-]*)\s*(=|!=|\beq\b|\bne\b)\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)\s*$/;

function parseComparison(text: string): Comparison {
  const m = COMPARISON.exec(text);
  if (m === null) throw new Error(`Invalid value for field 'filter': '${text}'. Invalid filter.`);
  const raw = m[3] ?? '';
  const value =
    raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  return { field: m[1] ?? '', op: m[2] as Comparison['op'], value };
}

/**
 * Parses a filter; an empty one matches everything.
 * @throws Error with Compute's message for an invalid filter.
 */
export function parseFilter(filter: string | undefined): FieldMatcher {
  const text = (filter ?? '').trim();
  if (text === '') return () => true;
  const comparisons: Comparison[] = [];
  if (text.startsWith('(')) {
    const groups = text.match(/\(([^()]*)\)/g);
    if (groups === null || groups.join('').replace(/\s/g, '') !== text.replace(/\s/g, '')) {
      throw new Error(`Invalid value for field 'filter': '${text}'. Invalid filter.`);
    }
    for (const g of groups) comparisons.push(parseComparison(g.slice(1, -1)));
  } else {
    comparisons.push(parseComparison(text));
  }
  return (fields) =>
    comparisons.every(({ field, op, value }) => {
      const actual = fields(field) ?? '';
      if (op === '=') return actual === value;
      if (op === '!=') return actual !== value;
      const matches = new RegExp(`^(?:${value})$`).test(actual);
      return op === 'eq' ? matches : !matches;
    });
}
