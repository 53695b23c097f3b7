/**
 * The shape of a CLI command and the helpers commands share for their
 * positional arguments.
 */
import { UsageError } from '@cloudboot/core';
import { type CliOptions, type OptionName, userPath } from '../args.js';
import type { CliIo, Output } from '../io.js';

/** What a command gets. */
export interface CommandContext {
  readonly io: CliIo;
  readonly out: Output;
  readonly options: CliOptions;
  /** Positional arguments after the command name. */
  readonly args: readonly string[];
}

/** How a command ended: its exit status and what the `--json` result line carries. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** One `cloudboot` command. */
export interface Command {
  readonly name: string;
  /** Arguments, as shown in help: `PLAN [-n NAME]`. */
  readonly usage: string;
  /** One line of help. */
  readonly summary: string;
  /** Options the command accepts besides {@link COMMON_OPTIONS}. */
  readonly options: readonly OptionName[];
  run(ctx: CommandContext): Promise<CommandOutcome>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: readonly OptionName[] = [
  'dbdir',
  'loglevel',
  'verbose',
  'quiet',
  'json',
  'help',
];

/** Options of commands that run an operation on one run. */
export const OPERATION_OPTIONS: readonly OptionName[] = [
  'name',
  'logdir',
  'output',
  'global',
  'parallel',
];

/** The single run name of a command: its one argument, or `-n NAME`. */
export function runNameArg(ctx: CommandContext, command: string): string {
  const { args, options } = ctx;
  if (args.length > 1)
    throw new UsageError(`${command} takes one run name, got ${args.length}: ${args.join(' ')}`);
  const fromArg = args[0];
  if (fromArg !== undefined && options.name !== undefined && fromArg !== options.name) {
    throw new UsageError(
      `${command}: the run name is given twice ("${fromArg}" and -n "${options.name}")`,
    );
  }
  const name = fromArg ?? options.name;
  if (name === undefined)
    throw new UsageError(`${command} needs a run name: cloudboot ${command} NAME`);
  return name;
}

/** The single plan file argument of `boot` / `reload`, made absolute. */
export function planArg(ctx: CommandContext, usage: string): string {
  const [plan, ...rest] = ctx.args;
  if (plan === undefined) throw new UsageError(`a plan file is needed: cloudboot ${usage}`);
  if (rest.length > 0)
    throw new UsageError(`unexpected arguments: ${rest.join(' ')} (usage: cloudboot ${usage})`);
  return userPath(plan, ctx.io);
}

/** Fails when a command that takes no arguments got some. */
export function noArgs(ctx: CommandContext, command: string): void {
  if (ctx.args.length > 0)
    throw new UsageError(`${command} takes no arguments, got: ${ctx.args.join(' ')}`);
}
