/**
 * Small rules about raw plan values that the loader checks at load time and
 * the run-time resolver applies later; kept in one place so both agree.
 * A literal value is checked when the plan is loaded; a value only known at
 * run time (`env.NAME`, `${…}`) is checked by the same rule once resolved.
 */

const ENV_VALUE = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;

/** The variable name when `value` is exactly `env.NAME`; otherwise undefined. */
export function envVariableName(value: string): string | undefined {
  return ENV_VALUE.exec(value)?.[1];
}

/**
 * True when a value is only known at run time: exactly `env.NAME`, or
 * containing `${`. Such values are neither path-resolved nor validated at load.
 */
export function isDeferredValue(value: string): boolean {
  return value.includes('${') || envVariableName(value) !== undefined;
}

const TRUE_WORDS: ReadonlySet<string> = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', 'no', 'off', '0']);

/** Reads a plan boolean (true/false, yes/no, on/off, 1/0, any case); undefined for anything else. */
export function parseBoolean(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/**
 * The longest `pgm_timeout`, in seconds: Node.js timers hold at most
 * 2^31 - 1 ms (about 24.8 days) and fire at once when given more.
 */
export const MAX_PGM_TIMEOUT_S = 2_147_483;

/** What a `pgm_timeout` must be, for messages. */
export const PGM_TIMEOUT_EXPECTED = `a positive number of seconds, at most ${MAX_PGM_TIMEOUT_S} (about 24 days, the longest timer Node.js allows)`;

/** True for a usable `pgm_timeout`: a positive decimal number of seconds up to {@link MAX_PGM_TIMEOUT_S}. */
export function isPgmTimeout(value: string): boolean {
  return /^\d+(\.\d+)?$/.test(value) && Number(value) > 0 && Number(value) <= MAX_PGM_TIMEOUT_S;
}

/** How the value of one plan key reads, and what it must be. */
export interface ValueRule<T> {
  /** The value read, or undefined when it does not have the expected form. */
  readonly read: (value: string) => T | undefined;
  /** What the value must be, for messages ("expected …"). */
  readonly expected: string;
}

const number = (test: (n: number) => boolean, pattern: RegExp) => (value: string) =>
  pattern.test(value) && test(Number(value)) ? Number(value) : undefined;
const WHOLE = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;
const BOOLEAN: ValueRule<boolean> = {
  read: parseBoolean,
  expected: 'true or false (or yes/no, on/off, 1/0)',
};

/**
 * The rules of the keys whose values core reads itself. The loader applies
 * them to literal values, and the settings of a service apply the same rule
 * to the resolved value, so a key means one thing at both times.
 */
export const VALUE_RULES = {
  pgm_timeout: {
    read: (v: string) => (isPgmTimeout(v) ? Number(v) : undefined),
    expected: PGM_TIMEOUT_EXPECTED,
  },
  ssh_port: {
    read: number((n) => n >= 1 && n <= 65535, WHOLE),
    expected: 'a whole number from 1 to 65535',
  },
  iaas_launch: BOOLEAN,
  local_exe: BOOLEAN,
  api_calls_per_second: { read: number((n) => n > 0, DECIMAL), expected: 'a positive number' },
  api_retries: { read: number(() => true, WHOLE), expected: 'a whole number, 0 or more' },
  // Programs are run by path from inside it, on a machine whose current directory is unknown.
  workdir: {
    read: (v: string) => (v.startsWith('/') || v === '~' || v.startsWith('~/') ? v : undefined),
    expected: 'an absolute path on the machine, or ~/…',
  },
} as const satisfies Readonly<Record<string, ValueRule<unknown>>>;

/** A key with a rule in {@link VALUE_RULES}. */
export type RuledKey = keyof typeof VALUE_RULES;

/** What a value of `key` reads as. */
export type RuledValue<K extends RuledKey> = NonNullable<
  ReturnType<(typeof VALUE_RULES)[K]['read']>
>;

/** True when core reads `key` by a rule of {@link VALUE_RULES}. */
export function isRuledKey(key: string): key is RuledKey {
  return Object.hasOwn(VALUE_RULES, key);
}
