/**
 * Loads a cloudinit.d-style boot plan: the top file, its level
 * files and the deps files they name, plus globals from the command line.
 * Everything is checked before anything runs, and every problem of every file
 * is reported together in one {@link PlanError}; there are no partial results.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { PlanProblem, SourceLocation } from '../errors.js';
import { formatProblem, PlanError } from '../errors.js';
import { bootconfTemplateProblem } from '../template/bootconf.js';
import type { IniDocument, IniEntry, IniSection } from './ini.js';
import { parseIni } from './ini.js';
import type { LevelPlan, Plan, PlanValue, ServicePlan } from './model.js';
import { PATH_KEYS } from './model.js';
import { withoutSecret } from './secrets.js';
import type { ServiceSection, ValueMap } from './service-checks.js';
import { checkServices, serviceNames } from './service-checks.js';
import { isDeferredValue, isRuledKey, VALUE_RULES } from './values.js';

/** Options of {@link loadPlan}: globals given on the command line. */
export interface LoadOptions {
  /** `-G FILE` globals files, lowest rank first. */
  globalsFiles?: readonly string[];
  /** `-g KEY=VALUE` globals (highest rank). */
  globals?: Readonly<Record<string, string>>;
  /** Base for relative globals file paths (and a relative top file); default process.cwd(). */
  cwd?: string;
}

/** `source.file` of values and problems that come from command-line options. */
export const COMMAND_LINE = '<command line>';

const TOP_SECTIONS: ReadonlySet<string> = new Set(['runlevels', 'defaults', 'globals']);
const CLOUD_SECTION = /^cloud-.+$/;
const SERVICE_SECTION = /^svc-(.+)$/;
/** Service names become working directories and log file names: nothing that can climb out. */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const LEVEL_KEY = /^level(\d+)$/;
const DEPS_KEY = /^deps(\d*)$/;
const REPLICA_KEY = 'replica_count';

interface Context {
  readonly problems: PlanProblem[];
  readonly home: string;
}

interface LevelEntry {
  /** Absolute path, or undefined when the path was unusable (already reported). */
  readonly file: string | undefined;
}

interface TopFile {
  readonly defaults: ValueMap;
  /** Keyed by section name, `cloud-NAME`. */
  readonly profiles: ReadonlyMap<string, ValueMap>;
  /** The profile selected by `[defaults]` `cloud`, for services that name none. */
  readonly defaultProfile: ValueMap;
  readonly globals: ValueMap;
  readonly levels: readonly LevelEntry[];
}

interface LevelRead {
  readonly level: number;
  readonly file: string;
  readonly sections: readonly ServiceSection[];
}

function report(ctx: Context, where: SourceLocation, message: string): void {
  ctx.problems.push({ ...where, message });
}

function locate(file: string, section: string, entry: IniEntry): SourceLocation {
  return { file, line: entry.line, section, key: entry.key };
}

// ---- files and paths ------------------------------------------------------

function expandPath(raw: string, baseDir: string, home: string): string {
  if (raw === '~') return home;
  if (raw.startsWith('~/')) return join(home, raw.slice(2));
  return resolve(baseDir, raw);
}

/** Why `file` cannot serve as a plan-named file, or undefined when it can. */
function unusableFileReason(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? undefined : 'is not a regular file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code})`;
  }
}

/** Reports at `namedBy` when `file` (written as `raw`) is unusable; true when it is fine. */
function checkNamedFile(file: string, raw: string, namedBy: SourceLocation, ctx: Context): boolean {
  const reason = unusableFileReason(file);
  if (reason === undefined) return true;
  const written = raw === file ? '' : ` (from "${raw}")`;
  report(ctx, namedBy, `file ${file}${written} ${reason}; expected an existing file`);
  return false;
}

/**
 * A file the loader itself must read (level, deps, globals file): the value
 * has to be a literal path, since env and references are only known later.
 */
function literalFile(
  raw: string,
  namedBy: SourceLocation,
  baseDir: string,
  what: string,
  ctx: Context,
): string | undefined {
  if (raw === '' || isDeferredValue(raw)) {
    report(ctx, namedBy, `expected a literal path of ${what} (read at load time), got "${raw}"`);
    return undefined;
  }
  const file = expandPath(raw, baseDir, ctx.home);
  return checkNamedFile(file, raw, namedBy, ctx) ? file : undefined;
}

function readIni(file: string, ctx: Context): IniDocument | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    report(
      ctx,
      { file },
      `cannot read the file (${(error as Error).message}); expected a readable file`,
    );
    return undefined;
  }
  if (text.includes('\0')) {
    report(
      ctx,
      { file },
      'holds NUL bytes, so it is a binary file; expected a text file of [section] headers and key: value lines',
    );
    return undefined;
  }
  const document = parseIni(text, file);
  ctx.problems.push(...document.problems);
  return document;
}

/** Entries of every section called `name`: like ConfigParser, a repeated section adds to the first. */
function entriesOf(document: IniDocument, name: string): IniEntry[] {
  return document.sections.filter((s) => s.name === name).flatMap((s) => s.entries);
}

// ---- values ---------------------------------------------------------------

function plainValues(entries: readonly IniEntry[], file: string, section: string): ValueMap {
  return new Map(entries.map((e) => [e.key, { value: e.value, source: locate(file, section, e) }]));
}

/** Checks a literal value of a key core reads (references and `env.NAME` are checked at run time). */
function checkLiteral(value: PlanValue, key: string, ctx: Context): void {
  if (!isRuledKey(key) || isDeferredValue(value.value)) return;
  const rule = VALUE_RULES[key];
  if (rule.read(value.value) === undefined) {
    report(ctx, value.source, `expected ${rule.expected}, got "${value.value}"`);
  }
}

/** Reports a bootconf template that no values can turn into a JSON object. */
function checkBootconf(file: string, namedBy: SourceLocation, ctx: Context): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    report(
      ctx,
      namedBy,
      `cannot read ${file} (${(error as Error).message}); expected a readable file`,
    );
    return;
  }
  const problem = bootconfTemplateProblem(text, `template ${file}`);
  if (problem !== undefined) report(ctx, namedBy, problem);
}

function pathValue(key: string, value: PlanValue, ctx: Context): PlanValue {
  if (isDeferredValue(value.value)) return value;
  const file = expandPath(value.value, dirname(value.source.file), ctx.home);
  if (checkNamedFile(file, value.value, value.source, ctx) && key === 'bootconf') {
    checkBootconf(file, value.source, ctx);
  }
  return { value: file, source: value.source };
}

/** Service keys as written in one section: paths resolved and checked, literals validated. */
function serviceValues(
  entries: readonly IniEntry[],
  file: string,
  section: string,
  ctx: Context,
): ValueMap {
  const values: ValueMap = new Map();
  for (const [key, written] of plainValues(entries, file, section)) {
    // The original tool took an empty value as "not given", so the next rank applies.
    if (written.value === '') continue;
    const value = PATH_KEYS.has(key) ? pathValue(key, written, ctx) : written;
    checkLiteral(value, key, ctx);
    values.set(key, value);
  }
  return values;
}

function isServiceOnlyKey(key: string): boolean {
  return key === REPLICA_KEY || DEPS_KEY.test(key);
}

/** `[defaults]` and `[cloud-NAME]` values; deps and replica_count make sense only per service. */
function sharedValues(
  entries: readonly IniEntry[],
  file: string,
  section: string,
  ctx: Context,
): ValueMap {
  for (const entry of entries.filter((e) => isServiceOnlyKey(e.key))) {
    report(ctx, locate(file, section, entry), 'expected this key only in a [svc-NAME] section');
  }
  return serviceValues(
    entries.filter((e) => !isServiceOnlyKey(e.key)),
    file,
    section,
    ctx,
  );
}

// ---- top file -------------------------------------------------------------

function checkTopSections(document: IniDocument, file: string, ctx: Context): void {
  for (const section of document.sections) {
    if (!TOP_SECTIONS.has(section.name) && !CLOUD_SECTION.test(section.name)) {
      report(
        ctx,
        { file, line: section.line, section: section.name },
        'unknown section; expected [runlevels], [defaults], [globals] or [cloud-NAME]',
      );
    }
  }
}

/** The profile `cloud: NAME` or `cloud: cloud-NAME` selects; empty (and reported) when undefined. */
function findProfile(
  cloud: PlanValue,
  profiles: ReadonlyMap<string, ValueMap>,
  ctx: Context,
): ValueMap {
  const profile = profiles.get(cloud.value) ?? profiles.get(`cloud-${cloud.value}`);
  if (profile === undefined) {
    const defined = profiles.size > 0 ? [...profiles.keys()].join(', ') : 'none';
    report(
      ctx,
      cloud.source,
      `cloud profile "${cloud.value}" is not defined; expected the name of a [cloud-NAME] section of the top file (defined: ${defined})`,
    );
  }
  return profile ?? new Map<string, PlanValue>();
}

interface NumberedLevel {
  readonly number: number;
  readonly entry: IniEntry;
  readonly source: SourceLocation;
}

function numberedLevels(document: IniDocument, file: string, ctx: Context): NumberedLevel[] {
  const numbered: NumberedLevel[] = [];
  for (const entry of entriesOf(document, 'runlevels')) {
    const source = locate(file, 'runlevels', entry);
    const match = LEVEL_KEY.exec(entry.key);
    if (match) numbered.push({ number: Number(match[1]), entry, source });
    else report(ctx, source, 'expected a key of "level" and a number, e.g. level1');
  }
  // Numeric, not string, order: level2 before level10.
  return numbered.sort((a, b) => a.number - b.number);
}

function checkDistinctNumbers(levels: readonly NumberedLevel[], ctx: Context): void {
  levels.forEach((level, i) => {
    const previous = levels[i - 1];
    if (previous !== undefined && previous.number === level.number) {
      report(
        ctx,
        level.source,
        `has the same number as ${previous.entry.key} (line ${previous.entry.line}); expected each level number once`,
      );
    }
  });
}

function readRunlevels(document: IniDocument, file: string, ctx: Context): LevelEntry[] {
  const section = document.sections.find((s) => s.name === 'runlevels');
  if (section === undefined) {
    report(
      ctx,
      { file },
      'no [runlevels] section; expected one naming the level files, e.g. "level1: web.conf"',
    );
    return [];
  }
  const levels = numberedLevels(document, file, ctx);
  if (levels.length === 0) {
    report(
      ctx,
      { file, line: section.line, section: 'runlevels' },
      'no levels; expected keys level1, level2, … naming level files',
    );
  }
  checkDistinctNumbers(levels, ctx);
  return levels.map(({ entry, source }) => ({
    file: literalFile(entry.value, source, dirname(file), 'a level file', ctx),
  }));
}

function readTopFile(file: string, ctx: Context): TopFile | undefined {
  const reason = unusableFileReason(file);
  if (reason !== undefined) {
    report(ctx, { file }, `the plan file ${reason}; expected the top file of a plan`);
    return undefined;
  }
  const document = readIni(file, ctx);
  if (document === undefined) return undefined;
  checkTopSections(document, file, ctx);
  const defaults = sharedValues(entriesOf(document, 'defaults'), file, 'defaults', ctx);
  const profileNames = new Set(
    document.sections.map((s) => s.name).filter((n) => CLOUD_SECTION.test(n)),
  );
  const profiles = new Map(
    [...profileNames].map((name) => [
      name,
      sharedValues(entriesOf(document, name), file, name, ctx),
    ]),
  );
  const cloud = defaults.get('cloud');
  return {
    defaults,
    profiles,
    defaultProfile: cloud === undefined ? new Map() : findProfile(cloud, profiles, ctx),
    globals: plainValues(entriesOf(document, 'globals'), file, 'globals'),
    levels: readRunlevels(document, file, ctx),
  };
}

// ---- level files, services and deps ---------------------------------------

/** `deps` first, then `deps1`, `deps2`, … in numeric order. */
function depsRank(key: string): number {
  const suffix = DEPS_KEY.exec(key)?.[1] ?? '';
  return suffix === '' ? -1 : Number(suffix);
}

function readDepsFile(file: string, namedBy: SourceLocation, ctx: Context): ValueMap {
  const document = readIni(file, ctx);
  if (document === undefined) return new Map();
  if (!document.sections.some((s) => s.name === 'deps')) {
    report(
      ctx,
      { file },
      `no [deps] section (file named by ${namedBy.file}:${namedBy.line}); expected a [deps] section of key: value attributes`,
    );
  }
  return plainValues(entriesOf(document, 'deps'), file, 'deps');
}

function readDeps(
  entries: readonly IniEntry[],
  file: string,
  section: string,
  ctx: Context,
): ValueMap {
  const deps: ValueMap = new Map();
  const ordered = [...entries].sort((a, b) => depsRank(a.key) - depsRank(b.key));
  for (const entry of ordered) {
    const source = locate(file, section, entry);
    const depsFile = literalFile(entry.value, source, dirname(file), 'a deps file', ctx);
    if (depsFile === undefined) continue;
    for (const [key, value] of readDepsFile(depsFile, source, ctx)) deps.set(key, value);
  }
  return deps;
}

function readReplicas(
  entry: IniEntry | undefined,
  file: string,
  section: string,
  ctx: Context,
): number | undefined {
  if (entry === undefined) return undefined;
  if (/^\d+$/.test(entry.value) && Number(entry.value) > 0) return Number(entry.value);
  report(
    ctx,
    locate(file, section, entry),
    `expected a positive whole number of replicas, got "${entry.value}"`,
  );
  return undefined;
}

function readService(
  section: IniSection,
  name: string,
  level: number,
  file: string,
  top: TopFile,
  ctx: Context,
): ServiceSection {
  const source = { file, line: section.line, section: section.name };
  const own = serviceValues(
    section.entries.filter((e) => !isServiceOnlyKey(e.key)),
    file,
    section.name,
    ctx,
  );
  const cloud = own.get('cloud');
  const profile = cloud === undefined ? top.defaultProfile : findProfile(cloud, top.profiles, ctx);
  const keys: ValueMap = new Map([...top.defaults, ...profile, ...own]);
  if (!keys.has('image') && !keys.has('hostname')) {
    report(
      ctx,
      source,
      `service "${name}" has neither image nor hostname; expected one of them here, in its cloud profile or in [defaults]`,
    );
  }
  const deps = readDeps(
    section.entries.filter((e) => DEPS_KEY.test(e.key)),
    file,
    section.name,
    ctx,
  );
  const replicaEntry = section.entries.find((e) => e.key === REPLICA_KEY);
  const replicas = readReplicas(replicaEntry, file, section.name, ctx);
  return { name, level, source, keys, deps, replicas };
}

function readLevel(file: string, level: number, top: TopFile, ctx: Context): LevelRead {
  const sections: ServiceSection[] = [];
  for (const section of readIni(file, ctx)?.sections ?? []) {
    const name = SERVICE_SECTION.exec(section.name)?.[1];
    if (name === undefined) {
      report(
        ctx,
        { file, line: section.line, section: section.name },
        'unexpected section in a level file; expected only [svc-NAME] sections',
      );
    } else if (!SERVICE_NAME.test(name)) {
      // The name becomes a directory on the machine and a file name here.
      report(
        ctx,
        { file, line: section.line, section: section.name },
        `service name "${name}" is not usable; expected letters, digits, ".", "_" and "-", starting with a letter or digit`,
      );
    } else {
      sections.push(readService(section, name, level, file, top, ctx));
    }
  }
  return { level, file, sections };
}

// ---- globals --------------------------------------------------------------

function readGlobalsFile(raw: string, cwd: string, ctx: Context): ValueMap {
  const namedBy = { file: COMMAND_LINE, key: '-G' };
  const file = literalFile(raw, namedBy, cwd, 'a globals file', ctx);
  const document = file === undefined ? undefined : readIni(file, ctx);
  if (file === undefined || document === undefined) return new Map();
  for (const section of document.sections.filter((s) => s.name !== 'globals')) {
    report(
      ctx,
      { file, line: section.line, section: section.name },
      'unexpected section in a globals file; expected only [globals]',
    );
  }
  return plainValues(entriesOf(document, 'globals'), file, 'globals');
}

function commandLineGlobals(globals: Readonly<Record<string, string>>, ctx: Context): ValueMap {
  const values: ValueMap = new Map();
  for (const [written, value] of Object.entries(globals)) {
    const key = written.trim().toLowerCase();
    if (key === '')
      report(ctx, { file: COMMAND_LINE, key: '-g' }, 'expected -g KEY=VALUE with a non-empty KEY');
    else values.set(key, { value, source: { file: COMMAND_LINE, key } });
  }
  return values;
}

/** Globals by rank, later wins: top `[globals]` < each `-G` file in order < `-g`. */
function mergeGlobals(top: ValueMap, options: LoadOptions, cwd: string, ctx: Context): ValueMap {
  const files = (options.globalsFiles ?? []).map((raw) => readGlobalsFile(raw, cwd, ctx));
  const layers = [top, ...files, commandLineGlobals(options.globals ?? {}, ctx)];
  return new Map(layers.flatMap((layer) => [...layer]));
}

// ---- result ---------------------------------------------------------------

function toServicePlans(section: ServiceSection): ServicePlan[] {
  // Only after every check: the checks need the real values, the result must not hold them.
  const keys = Object.fromEntries(
    [...section.keys].map(([key, value]) => [key, withoutSecret(key, value)]),
  );
  const deps = Object.fromEntries(section.deps);
  return serviceNames(section).map((name) => ({
    name,
    level: section.level,
    source: section.source,
    keys,
    deps,
  }));
}

function toLevelPlan(level: LevelRead): LevelPlan {
  return { level: level.level, file: level.file, services: level.sections.flatMap(toServicePlans) };
}

/** One problem reached through several services (a shared deps file, `[defaults]`) is told once. */
function distinctProblems(problems: readonly PlanProblem[]): PlanProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const text = formatProblem(problem);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

/**
 * Loads and validates a plan: the top file, every level file and deps file
 * it names, and the globals of `options`. Values stay raw (`env.NAME`,
 * `${…}`); literal paths become absolute; literal credentials are redacted
 * (see {@link withoutSecret}).
 *
 * @throws PlanError listing every problem found in every file.
 */
export function loadPlan(topFile: string, options: LoadOptions = {}): Plan {
  const cwd = options.cwd ?? process.cwd();
  const ctx: Context = { problems: [], home: homedir() };
  const topPath = resolve(cwd, topFile);
  const top = readTopFile(topPath, ctx);
  if (top === undefined) throw new PlanError(ctx.problems);
  const globals = mergeGlobals(top.globals, options, cwd, ctx);
  const levels = top.levels.flatMap((entry, index) =>
    entry.file === undefined ? [] : [readLevel(entry.file, index + 1, top, ctx)],
  );
  checkServices(
    levels.flatMap((level) => level.sections),
    globals,
    (where, message) => report(ctx, where, message),
  );
  if (ctx.problems.length > 0) throw new PlanError(distinctProblems(ctx.problems));
  return {
    topFile: topPath,
    levels: levels.map(toLevelPlan),
    globals: Object.fromEntries(globals),
  };
}

/**
 * Reads globals given to a command on an existing run (`-G FILE`, `-g
 * KEY=VALUE`), merged by rank. Values stay raw (`env.NAME` unresolved).
 *
 * @throws PlanError when a globals file is missing or malformed.
 */
export function loadGlobals(options: LoadOptions): Record<string, string> {
  const ctx: Context = { problems: [], home: homedir() };
  const globals = mergeGlobals(new Map(), options, options.cwd ?? process.cwd(), ctx);
  if (ctx.problems.length > 0) throw new PlanError(distinctProblems(ctx.problems));
  return Object.fromEntries([...globals].map(([name, value]) => [name, value.value]));
}
