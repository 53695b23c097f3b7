/**
 * The `/bin/sh` helper: starts each program from a background subshell
 * that waits for it and reports its status. POSIX sh cannot wait for
 * whichever child ends first, so every program costs a waiting subshell (a
 * fork) and an exec of util-linux `setsid` (which gives it its own session
 * and process group): about one more fork and one more exec per program than
 * the Perl helper.
 */
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { HelperDialect, HelperJob } from './helper-spawner.js';

/** One line for the helper shell: runs the job in the background and reports `ID pid N`, `ID exit S O E`. */
function encode(id: number, job: HelperJob): string {
  const { request } = job;
  const assignments = Object.entries(request.env ?? {})
    .map(([name, value]) => `${name}=${shellQuote(value)} `)
    .join('');
  const command = assignments + shellJoin(['setsid', request.program, ...request.args]);
  const out = shellQuote(job.out);
  const err = shellQuote(job.err);
  // `jobs` reaps finished background jobs so the shell's table stays small.
  return (
    `jobs >/dev/null; ( cd -- ${shellQuote(request.cwd)} 2>${err} || { echo "${id} exit 126 0 1"; exit; }; ` +
    `${command} </dev/null >${out} 2>${err} & echo "${id} pid $!"; wait $!; s=$?; ` +
    // Say which outputs are non-empty, so most programs cost no file reads here.
    `o=0; e=0; [ -s ${out} ] && o=1; [ -s ${err} ] && e=1; echo "${id} exit $s $o $e" ) &\n`
  );
}

/** The `/bin/sh` helper; needs util-linux `setsid` on PATH. */
export const SH_HELPER: HelperDialect = {
  name: 'sh',
  command: ['/bin/sh'],
  requires: ['setsid'],
  saysReady: false,
  encode,
};
