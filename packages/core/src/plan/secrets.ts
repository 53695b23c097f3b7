/**
 * Credentials written literally in a plan (`iaas_secret: AKIA…`). A run's
 * secrets are never stored, yet plans of the old tool must keep working. So
 * the loader keeps only a placeholder and where the value was written, and
 * the value is read again from that file whenever it is needed. A run's
 * in-memory plan and the copy in its database are then the same thing, and
 * behave the same.
 */
import { readFileSync } from 'node:fs';
import { TemplateError } from '../errors.js';
import type { IniDocument } from './ini.js';
import { parseIni } from './ini.js';
import type { Plan, PlanValue } from './model.js';
import { REDACTED, SECRET_KEYS } from './model.js';
import { envVariableName } from './values.js';

/**
 * `value` of service key `key` as the plan may keep it: a credential that is
 * not exactly `env.NAME` becomes {@link REDACTED}, marked `secret`, with its
 * source kept so it can be read again.
 */
export function withoutSecret(key: string, value: PlanValue): PlanValue {
  if (!SECRET_KEYS.has(key) || envVariableName(value.value) !== undefined) return value;
  return { value: REDACTED, secret: true, source: value.source };
}

/** True when `key` holds a credential in `plan`: a built-in credential key or one its drivers declared. */
export function isCredentialKey(plan: Plan, key: string): boolean {
  return SECRET_KEYS.has(key) || (plan.credentialKeys?.includes(key) ?? false);
}

/**
 * `plan` with more credential keys (declared by its driver modules): their
 * literal values are redacted like built-in credentials, and the keys are
 * recorded with the plan so that logs, `-o` and events redact them too,
 * also when the run is reopened.
 */
export function withCredentialKeys(plan: Plan, keys: readonly string[]): Plan {
  const extra = keys.map((k) => k.toLowerCase()).filter((k) => !isCredentialKey(plan, k));
  if (extra.length === 0) return plan;
  const credentialKeys = [...new Set([...(plan.credentialKeys ?? []), ...extra])].sort();
  const redact = (key: string, value: PlanValue): PlanValue =>
    !extra.includes(key) || value.secret || envVariableName(value.value) !== undefined
      ? value
      : { value: REDACTED, secret: true, source: value.source };
  return {
    ...plan,
    credentialKeys,
    levels: plan.levels.map((level) => ({
      ...level,
      services: level.services.map((service) => ({
        ...service,
        keys: Object.fromEntries(
          Object.entries(service.keys).map(([key, value]) => [key, redact(key, value)]),
        ),
      })),
    })),
  };
}

/** Reads redacted secrets back from their plan files; each file is read once per reader. */
export class SecretReader {
  /** The parsed file, or why it could not be read. */
  readonly #files = new Map<string, IniDocument | string>();

  /**
   * The value a redacted secret stands for, as its plan file has it now.
   * @param service The service that needs it, for the error message.
   * @throws TemplateError when the file or the key is gone, or the key no longer holds a literal.
   */
  read(value: PlanValue, service: string): string {
    const { file, line, section, key } = value.source;
    const document = this.#document(file);
    const entry =
      typeof document === 'string'
        ? undefined
        : document.sections
            .filter((s) => s.name === section)
            .flatMap((s) => s.entries)
            // Like the loader: of a key written twice (also in a repeated section), the later wins.
            .findLast((e) => e.key === key);
    const written = entry?.value ?? '';
    // An empty value means "not given" to the loader, and env.NAME is not what was loaded.
    if (written !== '' && envVariableName(written) === undefined) return written;
    const why =
      typeof document === 'string'
        ? `the file cannot be read: ${document}`
        : written === ''
          ? `there is no ${key} in [${section ?? ''}] now`
          : `it is now ${written}; reload the plan to use that`;
    throw new TemplateError(
      `${key} of service ${service}: the plan file ${file}${line !== undefined ? `:${line}` : ''} no longer has it (${why}); literal credentials are not stored with the run but read again from the plan file, so write it as env.NAME so it need not be stored, and reload the plan`,
    );
  }

  #document(file: string): IniDocument | string {
    let document = this.#files.get(file);
    if (document === undefined) {
      try {
        document = parseIni(readFileSync(file, 'utf8'), file);
      } catch (error) {
        document = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      }
      this.#files.set(file, document);
    }
    return document;
  }
}
