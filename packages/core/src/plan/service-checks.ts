/**
 * Checks that need the whole plan at once: unique service names after
 * replica expansion, `${…}` references that point backwards (to a service
 * of an earlier level, or to a defined global), and no `${.attr}` circles.
 */
import type { SourceLocation } from '../errors.js';
import type { Reference } from '../template/references.js';
import { findReferences } from '../template/references.js';
import type { PlanValue } from './model.js';

/** Plan values by lower-cased key, in the order they were first given. */
export type ValueMap = Map<string, PlanValue>;

/** One `[svc-NAME]` section after merging, before `replica_count` expansion. */
export interface ServiceSection {
  /** The section name without `svc-`. */
  readonly name: string;
  /** 1-based level number. */
  readonly level: number;
  /** Where the section starts. */
  readonly source: SourceLocation;
  /** Effective keys: section > cloud profile > `[defaults]`. */
  readonly keys: ValueMap;
  /** Attributes from the deps files. */
  readonly deps: ValueMap;
  /** `replica_count`, when given and valid. */
  readonly replicas: number | undefined;
}

/** Receives one problem: where, and one sentence saying what was expected. */
export type ProblemSink = (where: SourceLocation, message: string) => void;

/** The services a section stands for: `NAME`, or `NAME-0` … `NAME-(N-1)` when replicated. */
export function serviceNames(section: ServiceSection): string[] {
  if (section.replicas === undefined) return [section.name];
  return Array.from({ length: section.replicas }, (_, i) => `${section.name}-${i}`);
}

interface Scope {
  /** Every service name, to the section that first defined it. */
  readonly services: ReadonlyMap<string, ServiceSection>;
  /** Replicated sections by base name, for a helpful message when the base name is used. */
  readonly replicated: ReadonlyMap<string, ServiceSection>;
  readonly globals: ReadonlyMap<string, PlanValue>;
}

function where(source: SourceLocation): string {
  return `${source.file}:${source.line} [${source.section}]`;
}

function indexServices(
  sections: readonly ServiceSection[],
  report: ProblemSink,
): Map<string, ServiceSection> {
  const services = new Map<string, ServiceSection>();
  for (const section of sections) {
    for (const name of serviceNames(section)) {
      const first = services.get(name);
      if (first === undefined) {
        services.set(name, section);
      } else {
        report(
          section.source,
          `service "${name}" is already defined at ${where(first.source)}; expected each service name once across the plan`,
        );
      }
    }
  }
  return services;
}

function replicaRange(section: ServiceSection): string {
  const last = (section.replicas ?? 1) - 1;
  return last === 0 ? `${section.name}-0` : `${section.name}-0 … ${section.name}-${last}`;
}

/**
 * Whether a service reference points backwards depends on the service using
 * it, so a value written elsewhere ([defaults], a profile, a deps file) says which.
 */
function forService(value: PlanValue, section: ServiceSection): string {
  const own =
    value.source.file === section.source.file && value.source.section === section.source.section;
  return own ? '' : ` (for service "${section.name}")`;
}

function serviceReferenceProblem(
  reference: Reference,
  service: string,
  from: ServiceSection,
  scope: Scope,
): string | undefined {
  const expected = `expected a service of a level before level ${from.level}`;
  const target = scope.services.get(service);
  if (target === undefined) {
    const replicated = scope.replicated.get(service);
    if (replicated !== undefined) {
      return `${reference.text} names "${service}", which has replica_count ${replicated.replicas}; expected one replica: ${replicaRange(replicated)}`;
    }
    return `${reference.text} names unknown service "${service}"; ${expected}`;
  }
  if (target.level === from.level) {
    return `${reference.text} names service "${service}" of the same level (${target.level}); ${expected}`;
  }
  if (target.level > from.level) {
    return `${reference.text} names service "${service}" of a later level (${target.level}); ${expected}`;
  }
  return undefined;
}

function referenceProblem(
  reference: Reference,
  value: PlanValue,
  from: ServiceSection,
  scope: Scope,
): string | undefined {
  if (reference.service !== undefined) {
    const problem = serviceReferenceProblem(reference, reference.service, from, scope);
    return problem === undefined ? undefined : `${problem}${forService(value, from)}`;
  }
  // Global keys are lower-cased like every INI key, so `${global.Site}` finds `site`.
  if (reference.scope === 'global' && !scope.globals.has(reference.name.toLowerCase())) {
    return `${reference.text} names undefined global "${reference.name}"; expected a key of [globals], of a -G file or of -g`;
  }
  return undefined;
}

function checkReferences(section: ServiceSection, scope: Scope, report: ProblemSink): void {
  for (const value of [...section.keys.values(), ...section.deps.values()]) {
    for (const reference of findReferences(value.value)) {
      const problem = referenceProblem(reference, value, section, scope);
      if (problem !== undefined) report(value.source, problem);
    }
  }
}

/**
 * The value `${.name}` resolves to before the boot program published
 * anything: a dep, else a plan key (`run_name` is always cloudboot's).
 */
function ownValue(section: ServiceSection, name: string): PlanValue | undefined {
  if (name === 'run_name') return undefined;
  return section.deps.get(name) ?? section.keys.get(name);
}

/** Reports each circle of `${.attr}` references among a service's own values once. */
function checkCycles(section: ServiceSection, report: ProblemSink): void {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    const start = path.indexOf(name);
    if (start !== -1) {
      const circle = [...path.slice(start), name];
      const first = ownValue(section, circle[0] ?? name);
      if (first !== undefined) {
        report(
          first.source,
          `\${.${circle[1]}} makes a reference cycle (${circle.join(' -> ')})${forService(first, section)}; expected attributes that do not refer to each other in a circle`,
        );
      }
      return;
    }
    const value = ownValue(section, name);
    if (value !== undefined) {
      path.push(name);
      for (const reference of findReferences(value.value)) {
        if (reference.scope === 'self') visit(reference.name);
      }
      path.pop();
    }
    done.add(name);
  };
  for (const name of new Set([...section.deps.keys(), ...section.keys.keys()])) visit(name);
}

/**
 * Reports duplicate service names (after replica expansion), references
 * that do not point to a service of an earlier level or to a defined global,
 * and `${.attr}` references that go round in a circle.
 */
export function checkServices(
  sections: readonly ServiceSection[],
  globals: ReadonlyMap<string, PlanValue>,
  report: ProblemSink,
): void {
  const scope: Scope = {
    services: indexServices(sections, report),
    replicated: new Map(
      sections.filter((s) => s.replicas !== undefined).map((s) => [s.name, s] as const),
    ),
    globals,
  };
  for (const section of sections) {
    checkReferences(section, scope, report);
    checkCycles(section, report);
  }
}
