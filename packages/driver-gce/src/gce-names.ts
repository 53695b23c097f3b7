/**
 * Names Compute Engine accepts, derived deterministically from what
 * cloudboot knows about a launch, so that a repeated or resumed launch asks
 * for the same instance.
 *
 * - Instance names: `[a-z]([-a-z0-9]{0,61}[a-z0-9])?` (at most 63 characters).
 * - Label keys: at most 63 characters of `[a-z0-9_-]`, starting with a
 *   lower-case letter; label values: at most 63 characters of `[a-z0-9_-]`
 *   (empty allowed).
 *
 * (Compute Engine documents these rules under "Naming resources" and
 * "Labels".)
 */
import { createHash } from 'node:crypto';

const MAX = 63;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Lower case, every run of characters outside `[a-z0-9]` (and `keep`) as one `-`. */
function simplify(text: string, keep: RegExp): string {
  return text
    .toLowerCase()
    .split('')
    .map((c) => (keep.test(c) ? c : '-'))
    .join('')
    .replace(/-+/g, '-');
}

/**
 * Shortens a sanitised value that is too long, keeping it unique: the first
 * part, `-`, and 8 hex digits of a hash of the whole original.
 */
function fit(sanitised: string, original: string): string {
  if (sanitised.length <= MAX) return sanitised;
  return `${sanitised.slice(0, MAX - 9)}-${sha256Hex(original).slice(0, 8)}`;
}

/**
 * A label value from any text: lower-cased, characters other than
 * `[a-z0-9_-]` replaced by `-`, at most 63 characters (a long value keeps
 * its first 54 characters and a hash of the whole, so two long values stay
 * different).
 *
 * @example labelValue('Web.Tier') === 'web-tier'
 */
export function labelValue(text: string): string {
  return fit(simplify(text, /[a-z0-9_]/), text);
}

/**
 * A label key from any text: as {@link labelValue}, and starting with a
 * lower-case letter (`k` is put in front of one that does not).
 *
 * @example labelKey('Cost.Center') === 'cost-center'; labelKey('2fa') === 'k2fa'
 */
export function labelKey(text: string): string {
  const simple = simplify(text, /[a-z0-9_]/);
  const lettered = /^[a-z]/.test(simple) ? simple : `k${simple}`;
  return fit(lettered, text);
}

/** Labels with every key and value sanitised (see {@link labelKey}, {@link labelValue}). */
export function sanitiseLabels(
  labels: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [labelKey(k), labelValue(v)]));
}

/** Name-safe form of a part: `[a-z0-9-]`, no leading, trailing or doubled `-`. */
function namePart(text: string): string {
  return simplify(text, /[a-z0-9]/).replace(/^-|-$/g, '');
}

/**
 * The short form of a launch token that ends an instance name: its first 8
 * characters when it is a UUID (cloudboot's tokens), else 8 hex digits of
 * its hash.
 */
export function tokenSuffix(token: string): string {
  const lower = token.toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(lower) ? lower.slice(0, 8) : sha256Hex(token).slice(0, 8);
}

/**
 * The instance name of a launch: `cb-<run>-<service>-<token suffix>`, with
 * run and service sanitised and shortened so the whole is at most 63
 * characters (run at most 24, the service gets the rest). The token suffix
 * keeps names of different launches apart.
 *
 * @example instanceName('Demo.Run', 'web-0', '3f2a1b2c-…') === 'cb-demo-run-web-0-3f2a1b2c'
 */
export function instanceName(run: string, service: string, token: string): string {
  const suffix = tokenSuffix(token);
  const budget = MAX - 'cb-'.length - suffix.length - 2;
  const runPart = namePart(run).slice(0, 24).replace(/-$/, '') || 'run';
  const servicePart =
    namePart(service)
      .slice(0, budget - runPart.length)
      .replace(/-$/, '') || 'svc';
  return `cb-${runPart}-${servicePart}-${suffix}`;
}

/**
 * The `requestId` of the insert for a launch token: a UUID (version 5 form)
 * derived from the token, so every retry of the launch sends the same one
 * and Compute Engine answers it with the first operation.
 */
export function requestIdFor(token: string): string {
  const h = createHash('sha1').update(`cloudboot-gce-insert:${token}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
