/**
 * `${…}` references inside plan values: `${svc.attr}` (an attribute of a
 * service in an earlier level), `${.attr}` (the service's own attribute) and
 * `${global.NAME}` (a global). Anything else containing `$` is literal text.
 */
import { TemplateError } from '../errors.js';

/** A parsed `${scope.name}` reference. */
export interface Reference {
  /** `self` for `${.x}`, `global` for `${global.x}`, `service` for `${svc.x}`. */
  readonly scope: 'self' | 'global' | 'service';
  /** The service name for `service` references. */
  readonly service?: string;
  /** Attribute or global name. */
  readonly name: string;
  /** The reference as written, e.g. `${db.hostname}`. */
  readonly text: string;
}

const REFERENCE = /\$\{([A-Za-z0-9_-]*)\.([A-Za-z0-9_.-]+)\}/g;

function toReference(match: RegExpExecArray): Reference {
  const [text, scopeName = '', name = ''] = match;
  if (scopeName === '') return { scope: 'self', name, text };
  if (scopeName === 'global') return { scope: 'global', name, text };
  return { scope: 'service', service: scopeName, name, text };
}

/** Every reference in `text`, in order of appearance. */
export function findReferences(text: string): Reference[] {
  return Array.from(text.matchAll(REFERENCE), (m) => toReference(m as RegExpExecArray));
}

/**
 * Replaces every reference with what `resolve` returns for it.
 * @throws TemplateError naming the reference when `resolve` returns undefined.
 */
export function substituteReferences(
  text: string,
  resolve: (reference: Reference) => string | undefined,
  context = '',
): string {
  return text.replace(REFERENCE, (...args: unknown[]) => {
    const match = args.slice(0, 3) as unknown as RegExpExecArray;
    const reference = toReference(match);
    const value = resolve(reference);
    if (value === undefined) {
      throw new TemplateError(`${context}${reference.text} has no value`);
    }
    return value;
  });
}
