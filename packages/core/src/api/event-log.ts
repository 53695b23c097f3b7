/**
 * An operation's events, kept for `poll()` and `events()` in a compact
 * form: an operation of 10 000 services emits over 100 000 events, and the
 * log holds every one of them until the next operation begins (an iterator
 * made late still starts from the first). An event object costs about
 * 110 bytes of heap; here an event costs a template number, its varying
 * values and two offsets (about 36 bytes for a transition).
 *
 * Each event is split into a template — its keys in order, with the values
 * of the keys that take few distinct values (type, action, state, level …)
 * — shared by every event of that template, and its other values: numbers
 * in a `Float64Array`, everything else (service names, details, nested
 * objects) by reference. Reading rebuilds an equal object, with its keys in
 * the same order.
 */
import type { CloudBootEvent } from '../engine/events.js';

/** Keys whose values are part of an event's template. */
const TEMPLATE_KEYS: ReadonlySet<string> = new Set([
  'type',
  'action',
  'operation',
  'level',
  'state',
  'previous',
  'program',
  'exitCode',
  'timedOut',
  'recorded',
]);

/** True when the value of `key` belongs to the template (a primitive of a {@link TEMPLATE_KEYS} key). */
const inTemplate = (key: string, value: unknown) =>
  TEMPLATE_KEYS.has(key) && (value === null || typeof value !== 'object');

/** Where a template finds the value of one of its keys. */
const NUMBER = 0;
const REFERENCE = 1;
const FIXED = 2;

interface Template {
  readonly keys: readonly string[];
  /** Per key: {@link NUMBER}, {@link REFERENCE} or {@link FIXED}. */
  readonly kinds: Uint8Array;
  /** Per key: the value, for {@link FIXED} keys. */
  readonly fixed: readonly unknown[];
}

/**
 * A step of the template lookup: after a key, its value (template keys) or
 * the kind of its value (other keys); after that, the next key. The walk
 * allocates nothing once every template of an operation was seen.
 */
interface Step {
  readonly next: Map<unknown, Step>;
  template?: number;
}

/** The kind of a value that is not part of the template, as a lookup step. */
const AS_NUMBER = Symbol('number');
const AS_REFERENCE = Symbol('reference');

/** The step after `key` in `step`, made when new. */
function stepTo(step: Step, key: unknown): Step {
  let next = step.next.get(key);
  if (next === undefined) {
    next = { next: new Map() };
    step.next.set(key, next);
  }
  return next;
}

/** Room for `needed` entries, doubling the capacity when it is short. */
function grown<T extends Uint32Array | Float64Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const bigger = new (array.constructor as new (length: number) => T)(
    Math.max(needed, array.length * 2),
  );
  bigger.set(array);
  return bigger;
}

/** The events of one operation, in order; appended to, read by index. */
export class EventLog {
  readonly #templates: Template[] = [];
  /** Where the lookup of an event's template starts. */
  readonly #lookup: Step = { next: new Map() };
  /** Per event: its template, and where its numbers and references start. */
  #templateOf = new Uint32Array(256);
  #numbersAt = new Uint32Array(256);
  #referencesAt = new Uint32Array(256);
  #numbers = new Float64Array(256);
  #numberCount = 0;
  readonly #references: unknown[] = [];
  #length = 0;

  /** How many events the log holds. */
  get length(): number {
    return this.#length;
  }

  /** Appends an event (the log keeps its values, not the object). */
  push(event: CloudBootEvent): void {
    const values = event as unknown as Record<string, unknown>;
    let step = this.#lookup;
    for (const key in values) {
      const value = values[key];
      step = stepTo(step, key);
      step = stepTo(
        step,
        inTemplate(key, value) ? value : typeof value === 'number' ? AS_NUMBER : AS_REFERENCE,
      );
    }
    step.template ??= this.#newTemplate(values);
    const index = this.#length;
    this.#templateOf = grown(this.#templateOf, index + 1);
    this.#numbersAt = grown(this.#numbersAt, index + 1);
    this.#referencesAt = grown(this.#referencesAt, index + 1);
    this.#templateOf[index] = step.template;
    this.#numbersAt[index] = this.#numberCount;
    this.#referencesAt[index] = this.#references.length;
    const { kinds } = this.#templates[step.template] as Template;
    let k = 0;
    for (const key in values) {
      const kind = kinds[k++];
      if (kind === NUMBER) {
        this.#numbers = grown(this.#numbers, this.#numberCount + 1);
        this.#numbers[this.#numberCount++] = values[key] as number;
      } else if (kind === REFERENCE) {
        this.#references.push(values[key]);
      }
    }
    this.#length = index + 1;
  }

  /** The event at `index` (a new object equal to the one appended), or undefined past the end. */
  at(index: number): CloudBootEvent | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    const { keys, kinds, fixed } = this.#templates[this.#templateOf[index] ?? 0] as Template;
    let number = this.#numbersAt[index] ?? 0;
    let reference = this.#referencesAt[index] ?? 0;
    const event: Record<string, unknown> = {};
    for (const [k, key] of keys.entries()) {
      const kind = kinds[k];
      event[key] =
        kind === NUMBER
          ? this.#numbers[number++]
          : kind === REFERENCE
            ? this.#references[reference++]
            : fixed[k];
    }
    return event as unknown as CloudBootEvent;
  }

  /** The events from `start` to the end, in order. */
  slice(start: number): CloudBootEvent[] {
    const events: CloudBootEvent[] = [];
    for (let i = Math.max(start, 0); i < this.#length; i++) {
      events.push(this.at(i) as CloudBootEvent);
    }
    return events;
  }

  /** A template for events like `values`; returns its id. */
  #newTemplate(values: Readonly<Record<string, unknown>>): number {
    const keys = Object.keys(values);
    const kinds = new Uint8Array(keys.length);
    const fixed: unknown[] = [];
    for (const [k, key] of keys.entries()) {
      const value = values[key];
      kinds[k] = inTemplate(key, value) ? FIXED : typeof value === 'number' ? NUMBER : REFERENCE;
      fixed.push(kinds[k] === FIXED ? value : undefined);
    }
    this.#templates.push({ keys, kinds, fixed });
    return this.#templates.length - 1;
  }
}
