/**
 * Opening or creating a run with the command-line options, running its
 * operations with progress (or JSON events), writing `-o FILE`, and closing it.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import {
  CloudBoot,
  type CloudBootOptions,
  type OperationKind,
  type OperationResult,
  type RunDescription,
  UsageError,
} from '@cloudboot/core';
import { importDriverModule } from '../drivers.js';
import { exitCodeOfOutcome } from '../exit-codes.js';
import { Progress } from '../progress.js';
import type { CommandContext, CommandOutcome } from './command.js';

function commonOptions(ctx: CommandContext): CloudBootOptions {
  const { options, io } = ctx;
  return {
    dbDir: options.dbDir,
    importModule: importDriverModule,
    env: io.env,
    ...(options.logDir !== undefined && { logDir: options.logDir }),
    ...(options.parallel !== undefined && { concurrency: options.parallel }),
    ...(Object.keys(options.globals).length > 0 && { globals: options.globals }),
  };
}

/**
 * Loads `planFile` into a new run (named by `-n`, or generated), after
 * importing its driver modules so their credential keys are never stored.
 */
export function createRun(ctx: CommandContext, planFile: string): Promise<CloudBoot> {
  return CloudBoot.create({
    ...commonOptions(ctx),
    planFile,
    globalsFiles: ctx.options.globalsFiles,
    ...(ctx.options.name !== undefined && { runName: ctx.options.name }),
  });
}

/** Reopens the run `name`; `-g`/`-G` globals given now are stored with it. */
export function openRun(ctx: CommandContext, name: string): CloudBoot {
  const files = ctx.options.globalsFiles;
  return new CloudBoot({
    ...commonOptions(ctx),
    runName: name,
    ...(files.length > 0 && { globalsFiles: files }),
  });
}

/** Writes `-o FILE` (mode 0600: published attributes may be sensitive). */
function writeDescription(file: string, description: RunDescription): void {
  try {
    writeFileSync(file, `${JSON.stringify(description, null, 2)}\n`, { mode: 0o600 });
    // `mode` applies only to a new file; an old one may be readable by others.
    chmodSync(file, 0o600);
  } catch (error) {
    throw new UsageError(`cannot write -o ${file}: ${(error as Error).message}`);
  }
}

/** What the `--json` result line says about one operation. */
function operationJson(result: OperationResult, success: boolean): Record<string, unknown> {
  return {
    operation: result.operation,
    ok: success,
    durationMs: Math.round(result.durationMs),
    levels: result.levels.map((l) => ({
      level: l.level,
      status: l.status,
      services: l.services.map((s) => ({ service: s.service, status: s.status })),
    })),
    failures: result.failures.map((f) => ({
      service: f.service,
      phase: f.phase,
      message: f.message,
    })),
    throttledAccounts: result.throttledAccounts,
  };
}

/** Runs operations on one open run and reports them. */
export class RunSession {
  /** The open run. */
  readonly boot: CloudBoot;
  readonly #ctx: CommandContext;
  readonly #progress: Progress;
  readonly #operations: Record<string, unknown>[] = [];
  /** True once an operation of this session was interrupted. */
  interrupted = false;

  constructor(ctx: CommandContext, boot: CloudBoot) {
    this.#ctx = ctx;
    this.boot = boot;
    this.#progress = new Progress(
      ctx.out,
      {
        name: boot.name,
        // A getter: reload replaces the plan.
        get plan() {
          return boot.plan;
        },
        logDir: boot.logDir,
        state: (service) => boot.record(service).state,
        machine: (service) => boot.record(service),
      },
      {
        ...(ctx.io.stillIntervalMs !== undefined && { stillIntervalMs: ctx.io.stillIntervalMs }),
        ...(ctx.io.signal !== undefined && { signal: ctx.io.signal }),
      },
    );
  }

  /**
   * Runs one operation (`start` begins it and resolves with its result),
   * printing progress or JSON events. Returns the verdict: `result.ok`, or
   * `verdict(result)` when given (status: every service ready).
   */
  async operate(
    kind: OperationKind,
    start: () => Promise<OperationResult>,
    options: { verdict?: (result: OperationResult) => boolean; note?: string } = {},
  ): Promise<boolean> {
    const { out } = this.#ctx;
    const boot = this.boot;
    out.jsonLine({
      type: 'operation',
      run: boot.name,
      operation: kind,
      database: boot.databaseFile,
      logDir: boot.logDir,
    });
    this.#progress.begin(kind, options.note);
    const unsubscribe = boot.on((event) => {
      if (out.json) out.jsonLine({ run: boot.name, ...event });
      else this.#progress.event(event);
    });
    const signal = this.#ctx.io.signal;
    const interrupt = () => boot.abort();
    signal?.addEventListener('abort', interrupt);
    let result: OperationResult;
    try {
      const running = start();
      if (signal?.aborted) interrupt();
      result = await running;
    } finally {
      signal?.removeEventListener('abort', interrupt);
      unsubscribe();
      this.#progress.stop();
    }
    if (result.interrupted) this.interrupted = true;
    const success = options.verdict?.(result) ?? result.ok;
    this.#progress.end(result, success);
    this.#operations.push(operationJson(result, success));
    return success;
  }

  /** The run for the `--json` result line: operations done and every service's state. */
  summary(): Record<string, unknown> {
    return {
      run: this.boot.name,
      database: this.boot.databaseFile,
      logDir: this.boot.logDir,
      operations: this.#operations,
      services: this.boot.services().map((s) => ({
        name: s.name,
        level: s.level,
        state: s.state,
        ...(s.failure !== null && {
          failure: { phase: s.failure.phase, message: s.failure.message },
        }),
      })),
    };
  }

  /** Writes `-o FILE` (when given) and closes the run. */
  async finish(): Promise<void> {
    try {
      const file = this.#ctx.options.output;
      if (file !== undefined) writeDescription(file, await this.boot.describe());
    } finally {
      this.boot.close();
    }
  }
}

/**
 * Runs `body` on a run, then writes `-o` and closes it. Resolves with the
 * verdict of `body` and the run's summary for the `--json` result line.
 */
export async function useRun(
  ctx: CommandContext,
  boot: CloudBoot,
  body: (session: RunSession) => Promise<boolean>,
): Promise<{ success: boolean; interrupted: boolean; summary: Record<string, unknown> }> {
  const session = new RunSession(ctx, boot);
  try {
    // An interrupted operation ends the command: no second operation (reboot) starts.
    const success = await body(session);
    return { success, interrupted: session.interrupted, summary: session.summary() };
  } finally {
    await session.finish();
  }
}

/** {@link useRun} for commands that work on one run. */
export async function withRun(
  ctx: CommandContext,
  boot: CloudBoot,
  body: (session: RunSession) => Promise<boolean>,
): Promise<CommandOutcome> {
  const { success, interrupted, summary } = await useRun(ctx, boot, body);
  return { exitCode: exitCodeOfOutcome(success, interrupted), details: { runs: [summary] } };
}
