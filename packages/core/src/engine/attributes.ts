/**
 * The attribute bag: what `${svc.attr}`, `${.attr}`, `${global.x}` and
 * bootconf `$key` resolve to. Values are resolved lazily and on demand, so
 * attributes published by earlier levels (and by the service's own boot
 * program, for its ready program) are always the current ones.
 */
import { TemplateError } from '../errors.js';
import {
  KNOWN_SERVICE_KEYS,
  type Plan,
  type PlanValue,
  PROGRAM_ARG_KEYS,
  REDACTED,
  type ServicePlan,
} from '../plan/model.js';
import { isCredentialKey, SecretReader } from '../plan/secrets.js';
import { envVariableName } from '../plan/values.js';
import { type Reference, substituteReferences } from '../template/references.js';

/** What is known about a service at run time. */
export interface ServiceFacts {
  readonly hostname?: string | null;
  readonly instanceId?: string | null;
  /** Attributes its boot program published (`bootout.json`). */
  readonly published: Readonly<Record<string, string>>;
  /** Attributes of its machine, from the cloud (see {@link machineAttributes}). */
  readonly machineAttributes?: Readonly<Record<string, string>>;
}

/** `text` with every occurrence of a secret replaced by {@link REDACTED}. */
export function redactText(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => out.replaceAll(secret, REDACTED), text);
}

/** Attributes cloudboot itself gives every service. */
const BUILT_IN_ATTRIBUTES = ['service', 'run_name', 'hostname', 'instance_id'] as const;

/**
 * Names a boot program cannot publish through `bootout.json`: the built-in
 * attributes and every key cloudboot reads from the plan (`workdir`, the
 * programs and their arguments …). Their values come from cloudboot and the
 * plan only, so `${db.hostname}` and `-o` always tell the truth.
 */
export const RESERVED_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...BUILT_IN_ATTRIBUTES,
  ...KNOWN_SERVICE_KEYS,
]);

/** What a boot program published, split into attributes to keep and reserved names to ignore. */
export interface Publication {
  /** Attributes that may be published. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Reserved names it tried to publish (see {@link RESERVED_ATTRIBUTES}), in its order. */
  readonly ignored: readonly string[];
}

/** Splits what `bootout.json` held into publishable attributes and reserved names. */
export function publishable(published: Readonly<Record<string, string>>): Publication {
  const attributes: Record<string, string> = Object.create(null);
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(published)) {
    if (RESERVED_ATTRIBUTES.has(name)) ignored.push(name);
    else attributes[name] = value;
  }
  return { attributes, ignored };
}

/**
 * What core publishes about a service's addressed machine: `public_ip` and
 * `private_ip` when the cloud knows them, and the further facts the driver
 * returned (`public_dns`, `availability_zone` …). A driver-given name
 * cloudboot reserves is left out (and returned in `ignored`): `hostname`,
 * `instance_id` and plan keys come from cloudboot and the plan only.
 */
export function machineAttributes(info: {
  readonly publicAddress?: string | undefined;
  readonly privateAddress?: string | undefined;
  readonly attributes?: Readonly<Record<string, string>> | undefined;
}): Publication {
  const { attributes, ignored } = publishable(info.attributes ?? {});
  const all: Record<string, string> = Object.assign(Object.create(null), attributes);
  if (info.publicAddress !== undefined) all.public_ip = info.publicAddress;
  if (info.privateAddress !== undefined) all.private_ip = info.privateAddress;
  return { attributes: all, ignored };
}

/** `record[key]` when it is the record's own property: names like `toString` are not attributes. */
function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Secrets shorter than this are not redacted from logs (see {@link Attributes.secrets}). */
const MIN_SECRET_LENGTH = 4;

/** Inputs of attribute resolution. */
export interface AttributeSources {
  readonly runName: string;
  readonly plan: Plan;
  /** Effective globals (all ranks merged). */
  readonly globals: Readonly<Record<string, string>>;
  /** Environment for `env.NAME` values. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Run-time facts of a service (from the run database). */
  readonly facts: (service: string) => ServiceFacts | undefined;
}

/**
 * Resolves a raw plan value: exactly `env.NAME` becomes the variable's value
 * (undefined when unset, i.e. the key is absent); anything else is returned as is.
 */
export function resolveEnv(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const name = envVariableName(value);
  return name === undefined ? value : env[name];
}

function where(value: PlanValue): string {
  const s = value.source;
  return `${s.file}${s.line !== undefined ? `:${s.line}` : ''}: [${s.section ?? ''}] ${s.key ?? ''}: `;
}

/** Attribute resolution over a plan and the run's recorded facts. */
export class Attributes {
  readonly #sources: AttributeSources;
  readonly #services: Map<string, ServicePlan>;
  /** `service.name` pairs being resolved, to report cycles instead of overflowing. */
  readonly #resolving = new Set<string>();
  /** Literal credentials are not in the plan (see `plan/secrets.ts`); read again, once per file. */
  readonly #secretReader = new SecretReader();

  constructor(sources: AttributeSources) {
    this.#sources = sources;
    this.#services = new Map(
      sources.plan.levels.flatMap((l) => l.services.map((s) => [s.name, s] as const)),
    );
  }

  /** The plan entry of a service. */
  service(name: string): ServicePlan {
    const service = this.#services.get(name);
    if (service === undefined) throw new TemplateError(`there is no service named "${name}"`);
    return service;
  }

  /** The resolved value of one of the service's plan keys (undefined when absent). */
  key(service: string, key: string): string | undefined {
    const raw = own(this.service(service).keys, key);
    return raw === undefined ? undefined : this.#resolveValue(service, raw);
  }

  /**
   * One of the service's plan keys with `env.NAME` resolved but its `${…}`
   * references left as they are, for values that are split into words before
   * each word is substituted (`*_args`): substituting first would split (and
   * substitute again) inside attribute values.
   */
  rawKey(service: string, key: string): string | undefined {
    const raw = own(this.service(service).keys, key);
    return raw === undefined ? undefined : this.#written(service, raw);
  }

  /**
   * One attribute of a service. Order: the machine's real `hostname` and
   * `instance_id` once known, `run_name`, the machine's attributes from the
   * cloud (`public_ip` …), then published attributes, deps, plan keys, and
   * finally the service's own name as `service`. Only own
   * properties count (`toString` is no attribute), and published values of
   * {@link RESERVED_ATTRIBUTES} are ignored.
   */
  attr(service: string, name: string): string | undefined {
    const plan = this.service(service);
    const facts = this.#sources.facts(service);
    if (name === 'hostname' && facts?.hostname) return facts.hostname;
    if (name === 'instance_id' && facts?.instanceId) return facts.instanceId;
    if (name === 'run_name') return this.#sources.runName;
    if (!RESERVED_ATTRIBUTES.has(name)) {
      const machine = own(facts?.machineAttributes, name);
      if (machine !== undefined) return machine;
    }
    const published = RESERVED_ATTRIBUTES.has(name) ? undefined : own(facts?.published, name);
    if (published !== undefined) return published;
    const dep = own(plan.deps, name);
    if (dep !== undefined)
      return this.#guarded(service, name, () => this.#resolveValue(service, dep));
    const key = own(plan.keys, name);
    if (key !== undefined)
      return this.#guarded(service, name, () => this.#resolveValue(service, key));
    if (name === 'service') return service;
    return undefined;
  }

  /**
   * Every attribute of a service, as a flat map without prototype (for
   * bootconf templates and `-o`). Program argument templates are not
   * attributes: they are resolved word by word when their program runs.
   */
  bag(service: string): Record<string, string> {
    const plan = this.service(service);
    const facts = this.#sources.facts(service);
    const names = new Set([
      ...BUILT_IN_ATTRIBUTES,
      ...Object.keys(plan.keys).filter((k) => !PROGRAM_ARG_KEYS.has(k)),
      ...Object.keys(plan.deps),
      ...Object.keys(facts?.machineAttributes ?? {}),
      ...Object.keys(facts?.published ?? {}),
    ]);
    const bag: Record<string, string> = Object.create(null);
    for (const name of names) {
      const value = this.attr(service, name);
      if (value !== undefined) bag[name] = value;
    }
    return bag;
  }

  /**
   * Values of the service that must not appear in logs: its credentials
   * (`iaas_secret`, a driver's declared keys …) and anything it takes from the environment
   * (`env.NAME` keys and deps). Very short values are left out, since
   * hiding every "1" in a log would hide more than it protects.
   */
  secrets(service: string): string[] {
    const plan = this.service(service);
    const secret = new Set<string>();
    const consider = (name: string, raw: PlanValue, value: () => string | undefined) => {
      if (!this.isCredential(name) && envVariableName(raw.value) === undefined) return;
      let resolved: string | undefined;
      try {
        resolved = value();
      } catch {
        // A value that does not resolve cannot be printed either.
        return;
      }
      if (resolved !== undefined && resolved.length >= MIN_SECRET_LENGTH) secret.add(resolved);
    };
    for (const [name, raw] of Object.entries(plan.keys))
      consider(name, raw, () => this.key(service, name));
    for (const [name, raw] of Object.entries(plan.deps))
      consider(name, raw, () => this.attr(service, name));
    return [...secret];
  }

  /** True when the plan key `name` holds a credential (built in, or declared by a driver). */
  isCredential(name: string): boolean {
    return isCredentialKey(this.#sources.plan, name);
  }

  /** `text` with every secret of the service replaced by {@link REDACTED}. */
  redact(service: string, text: string): string {
    return redactText(text, this.secrets(service));
  }

  /** A global's value, or undefined. Global names are case-insensitive, like INI keys. */
  global(name: string): string | undefined {
    return own(this.#sources.globals, name.toLowerCase());
  }

  /**
   * Substitutes `${…}` references in `text` in the context of `service`.
   * @throws TemplateError saying which reference has no value, prefixed by `context`.
   */
  substitute(service: string, text: string, context: string): string {
    return substituteReferences(text, (ref) => this.#lookup(service, ref, context), context);
  }

  /** The value as written in the plan (a redacted secret read again), `env.NAME` resolved. */
  #written(service: string, value: PlanValue): string | undefined {
    const written = value.secret ? this.#secretReader.read(value, service) : value.value;
    return resolveEnv(written, this.#sources.env);
  }

  #resolveValue(service: string, value: PlanValue): string | undefined {
    const raw = this.#written(service, value);
    return raw === undefined ? undefined : this.substitute(service, raw, where(value));
  }

  #lookup(service: string, ref: Reference, context: string): string {
    let value: string | undefined;
    let owner: string;
    if (ref.scope === 'global') {
      value = this.global(ref.name);
      if (value === undefined)
        throw new TemplateError(`${context}${ref.text}: there is no global "${ref.name}"`);
      return value;
    }
    if (ref.scope === 'self') {
      owner = service;
    } else {
      owner = ref.service ?? '';
      if (!this.#services.has(owner)) {
        throw new TemplateError(`${context}${ref.text}: there is no service named "${owner}"`);
      }
    }
    value = this.attr(owner, ref.name);
    if (value === undefined) {
      const whose = owner === service ? `${service} has` : `service ${owner} has`;
      throw new TemplateError(
        `${context}${ref.text}: ${whose} no attribute "${ref.name}" (not in its plan keys or deps, and not published by its boot program)`,
      );
    }
    return value;
  }

  #guarded(service: string, name: string, resolve: () => string | undefined): string | undefined {
    const id = `${service}.${name}`;
    if (this.#resolving.has(id)) {
      throw new TemplateError(
        `attribute ${name} of ${service} refers to itself (a reference cycle)`,
      );
    }
    this.#resolving.add(id);
    try {
      return resolve();
    } finally {
      this.#resolving.delete(id);
    }
  }
}
