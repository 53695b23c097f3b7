/**
 * Small rules about raw plan values that the loader checks at load time and
 * the run-time resolver applies later; kept in one place so both agree.
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
