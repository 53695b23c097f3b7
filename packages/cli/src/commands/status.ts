/**
 * `cloudboot status NAME [--watch [SECONDS]]`: re-run every ready program and
 * report each service's state; with `--watch`, again every SECONDS until Ctrl-C.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudBoot } from '@cloudboot/core';
import { type Command, OPERATION_OPTIONS, runNameArg } from './command.js';
import { openRun, type RunSession, withRun } from './run-session.js';

/** One status round; true when every service is ready. */
function checkOnce(session: RunSession, boot: CloudBoot, note = ''): Promise<boolean> {
  return session.operate('status', () => boot.checkStatus(), {
    verdict: () => boot.services().every((r) => r.state === 'ready'),
    note,
  });
}

/** Waits `ms`; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(ms, undefined, signal === undefined ? {} : { signal });
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}

/**
 * The `status` command. Succeeds only when every service is ready. With
 * `--watch` it runs until interrupted (exit 130); the run is locked only
 * while a round runs.
 */
export const statusCommand: Command = {
  name: 'status',
  usage: 'status NAME [--watch [SECONDS]]',
  summary: 're-run every ready program and show the state of each service (--watch: repeatedly)',
  options: [...OPERATION_OPTIONS, 'watch'],
  async run(ctx) {
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    const every = ctx.options.watch;
    if (every === undefined) return withRun(ctx, boot, (s) => checkOnce(s, boot));
    return withRun(ctx, boot, async (s) => {
      for (let round = 1; ; round++) {
        if (round > 1) ctx.out.info('');
        const ok = await checkOnce(s, boot, ` (round ${round}, every ${every}s until Ctrl-C)`);
        if (s.interrupted) return ok;
        if (!(await pause(every * 1000, ctx.io.signal))) {
          s.interrupted = true;
          return ok;
        }
      }
    });
  },
};
