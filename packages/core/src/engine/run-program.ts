/**
 * Installs and runs one of a service's programs on its machine, logging its
 * output, and turns the result into a one-sentence verdict.
 */
import { basename } from 'node:path';
import { type MachineSession, PROGRAM_TAG, type RunResult } from '../exec/machine.js';
import { REDACTED } from '../plan/model.js';
import { splitShellWords } from '../template/shell-words.js';
import { redactText } from './attributes.js';
import type { OperationContext } from './operation-context.js';
import { installProgram } from './programs.js';
import type { MachineSettings, ProgramSetting } from './service-settings.js';

const ROLE: Record<ProgramSetting['key'], string> = {
  bootpgm: 'boot program',
  readypgm: 'ready program',
  terminatepgm: 'terminate program',
};

/** Splits the program's `*_args` like a shell and substitutes each word. */
export function programArgs(
  ctx: OperationContext,
  service: string,
  program: ProgramSetting,
): string[] {
  return splitShellWords(program.args).map((word) =>
    ctx.attrs.substitute(service, word, `${service}: ${program.key}_args: `),
  );
}

/** Uploads (and unpacks) the program into `workdir`, then runs it from there. */
export async function runProgram(
  ctx: OperationContext,
  session: MachineSession,
  settings: MachineSettings,
  program: ProgramSetting,
  workdir: string,
): Promise<RunResult> {
  const name = settings.name;
  const args = programArgs(ctx, name, program);
  const installed = await installProgram(
    session,
    ctx.files,
    program.path,
    workdir,
    settings.timeoutMs,
  );
  const secrets = ctx.attrs.secrets(name);
  ctx.logs.note(
    name,
    `${program.key} ${basename(program.path)} ${JSON.stringify(args.map((arg) => redactText(arg, secrets)))} on ${session.label}`,
  );
  // Committed before the start (with the other starts of this tick): a
  // cloudboot that dies leaves a record to reap by (see reap.ts).
  const tracked = ctx.store.recordProcess(name, session.label, program.key);
  await ctx.store.committed();
  const output = ctx.logs.programOutput(name);
  let result: RunResult;
  try {
    result = await session.run({
      program: installed.path,
      ...(installed.install !== undefined && { install: installed.install }),
      args,
      cwd: workdir,
      timeoutMs: settings.timeoutMs,
      ...(ctx.signal !== undefined && { signal: ctx.signal }),
      onOutput: (_stream, chunk) => output.write(redactBytes(chunk, secrets)),
      env: { [PROGRAM_TAG]: tracked.token },
      onStart: (pgid) => {
        ctx.store.setProcessGroup(tracked.id, pgid);
        ctx.level?.settled(name);
      },
    });
  } finally {
    ctx.store.endProcesses([tracked.id]);
    output.end();
  }
  ctx.logs.result(name, program.key, result);
  ctx.emit({
    type: 'program',
    operation: ctx.operation,
    service: name,
    level: ctx.record(name).level,
    program: program.key,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    at: Date.now(),
  });
  return result;
}

/**
 * Program output with every secret replaced by {@link REDACTED}, byte for
 * byte (latin1 maps each byte to one character, so binary output survives).
 * A secret split across two chunks is not caught.
 */
function redactBytes(chunk: Buffer, secrets: readonly string[]): Buffer {
  if (secrets.length === 0) return chunk;
  const text = chunk.toString('latin1');
  const redacted = secrets.reduce(
    (out, secret) => out.replaceAll(Buffer.from(secret).toString('latin1'), REDACTED),
    text,
  );
  return redacted === text ? chunk : Buffer.from(redacted, 'latin1');
}

/** Why a program run counts as failed, or undefined when it exited 0. */
export function programFailure(
  program: ProgramSetting,
  result: RunResult,
  timeoutMs: number,
): string | undefined {
  const what = `${ROLE[program.key]} ${basename(program.path)}`;
  if (result.timedOut) {
    return `${what} did not finish within ${timeoutMs / 1000} s (pgm_timeout) and was killed`;
  }
  if (result.exitCode === 0) return undefined;
  if (result.exitCode === null) return `${what} was killed by ${result.signal ?? 'a signal'}`;
  return `${what} exited with status ${result.exitCode}`;
}
