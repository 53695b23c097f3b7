/**
 * `-x/--validate` and `-y/--dryrun` for `boot` and `reload`: load the plan
 * (and, for validate, the driver modules it names) without creating a run
 * database or touching any machine.
 */
import {
  DriverRegistry,
  loadPlan,
  type Plan,
  parseBoolean,
  planDrivers,
  plannedDriver,
  preflight,
  type ServicePlan,
} from '@cloudboot/core';
import { importDriverModule } from '../drivers.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext, CommandOutcome } from './command.js';

/** What a dry run shows of one service (raw plan values; references are resolved at boot). */
export interface ServicePreview {
  readonly name: string;
  /** Driver name or module; `undefined` when it is only known at boot (a reference or `env.NAME`). */
  readonly driver: string | undefined;
  readonly machine: string;
  readonly runs: string;
  readonly programs: Readonly<Record<string, string>>;
  readonly deps: readonly string[];
}

const PROGRAM_KEYS = ['bootconf', 'bootpgm', 'readypgm', 'terminatepgm'] as const;

/** The preview of one service: which driver and machine, which programs. */
export function previewService(service: ServicePlan): ServicePreview {
  const raw = (key: string) => service.keys[key]?.value;
  // Without the environment: a driver given as env.NAME is shown as written.
  const { launches, driver } = plannedDriver(service);
  const image = raw('image');
  const allocation = raw('allocation');
  const machine = launches
    ? `launch image ${image ?? '(none)'}${allocation !== undefined ? ` (${allocation})` : ''} with driver ${driver ?? raw('driver')}`
    : `existing host ${raw('hostname') ?? '(none)'} (driver ${driver})`;
  const local = parseBoolean(raw('local_exe') ?? '') === true;
  const user = raw('ssh_username');
  const runs = local
    ? 'programs run on this machine (local_exe)'
    : `programs run over SSH${user !== undefined ? ` as ${user}` : ''}, port ${raw('ssh_port') ?? '22'}`;
  const programs: Record<string, string> = {};
  for (const key of PROGRAM_KEYS) {
    const path = raw(key);
    const args = raw(`${key}_args`);
    if (path !== undefined) programs[key] = args !== undefined ? `${path} ${args}` : path;
  }
  return {
    name: service.name,
    driver,
    machine,
    runs,
    programs,
    deps: Object.keys(service.deps).sort(),
  };
}

function load(ctx: CommandContext, planFile: string): Plan {
  const { options, io } = ctx;
  return loadPlan(planFile, {
    globals: options.globals,
    globalsFiles: options.globalsFiles,
    cwd: io.cwd,
  });
}

function count(plan: Plan): string {
  const services = plan.levels.reduce((n, l) => n + l.services.length, 0);
  return `${services} service${services === 1 ? '' : 's'} in ${plan.levels.length} level${plan.levels.length === 1 ? '' : 's'}`;
}

function planJson(plan: Plan): Record<string, unknown> {
  return {
    topFile: plan.topFile,
    levels: plan.levels.map((l) => ({
      level: l.level,
      file: l.file,
      services: l.services.map(previewService),
    })),
  };
}

/**
 * Loads the plan and imports every driver module it names, as a boot does
 * before it starts.
 * @throws PlanError (exit 2) or DriverLoadError (exit 4).
 */
export async function validatePlan(ctx: CommandContext, planFile: string): Promise<CommandOutcome> {
  const plan = load(ctx, planFile);
  const env = ctx.io.env;
  await preflight(plan, env, new DriverRegistry({ importModule: importDriverModule }));
  const drivers = new Set(planDrivers(plan, env).map((d) => d.name));
  ctx.out.final(
    `plan ${plan.topFile} is valid: ${count(plan)}; drivers: ${[...drivers].join(', ') || 'none'}`,
  );
  return { exitCode: EXIT.ok, details: { plan: planJson(plan) } };
}

/** Prints what a boot of the plan would do, level by level. */
export function dryRun(ctx: CommandContext, planFile: string): CommandOutcome {
  const { out } = ctx;
  const plan = load(ctx, planFile);
  out.info(`plan ${plan.topFile}: ${count(plan)} (dry run: nothing is created or run)`);
  for (const level of plan.levels) {
    const n = level.services.length;
    out.info(`level ${level.level}: ${level.file} (${n} service${n === 1 ? '' : 's'})`);
    for (const service of level.services) {
      const preview = previewService(service);
      out.info(`  ${preview.name}`);
      out.info(`    machine       ${preview.machine}`);
      out.info(`    execution     ${preview.runs}`);
      for (const [key, value] of Object.entries(preview.programs))
        out.info(`    ${key.padEnd(13)} ${value}`);
      if (preview.deps.length > 0) out.info(`    attributes    ${preview.deps.join(', ')}`);
    }
  }
  out.final(`dry run of ${plan.topFile}: ${count(plan)}; nothing was created`);
  return { exitCode: EXIT.ok, details: { plan: planJson(plan) } };
}
