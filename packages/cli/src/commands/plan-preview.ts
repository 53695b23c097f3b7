/**
 * `-x/--validate` and `-y/--dryrun` for `boot` and `reload`: load the plan
 * (and, for validate, the driver modules it names) without creating a run
 * database or touching any machine.
 */
import { dirname } from 'node:path';
import { DriverRegistry, loadPlan, type Plan, type ServicePlan } from '@cloudboot/core';
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
const TRUE_WORDS = ['true', 'yes', 'on', '1'];

function deferred(value: string): boolean {
  return value.includes('${') || value.startsWith('env.');
}

/** The preview of one service: which driver and machine, which programs. */
export function previewService(service: ServicePlan): ServicePreview {
  const raw = (key: string) => service.keys[key]?.value;
  const hostname = raw('hostname');
  const launchText = raw('iaas_launch');
  const launch =
    launchText === undefined || deferred(launchText)
      ? hostname === undefined
      : TRUE_WORDS.includes(launchText.trim().toLowerCase());
  const driverText = launch ? (raw('driver') ?? 'ec2') : 'static-ip';
  const image = raw('image');
  const allocation = raw('allocation');
  const machine = launch
    ? `launch image ${image ?? '(none)'}${allocation !== undefined ? ` (${allocation})` : ''} with driver ${driverText}`
    : `existing host ${hostname ?? '(none)'} (driver static-ip)`;
  const local = TRUE_WORDS.includes((raw('local_exe') ?? '').trim().toLowerCase());
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
    driver: deferred(driverText) ? undefined : driverText,
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
 * Loads the plan and imports every driver module it names.
 * @throws PlanError (exit 2) or DriverLoadError (exit 4).
 */
export async function validatePlan(ctx: CommandContext, planFile: string): Promise<CommandOutcome> {
  const plan = load(ctx, planFile);
  const registry = new DriverRegistry({ importModule: importDriverModule });
  const drivers = new Set<string>();
  for (const service of plan.levels.flatMap((l) => l.services)) {
    const { driver } = previewService(service);
    if (driver === undefined) continue;
    // Relative in-house driver modules resolve against the file that names them.
    await registry.factory(
      driver,
      dirname(service.keys.driver?.source.file ?? service.source.file),
    );
    drivers.add(driver);
  }
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
