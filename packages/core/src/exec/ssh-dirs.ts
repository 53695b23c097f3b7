/**
 * Private directories on a machine reached over SSH: the POSIX shell
 * functions behind {@link MachineSession.prepareDir} and
 * {@link MachineSession.ownsDir} and {@link MachineSession.removeOwnedDir},
 * and the parsing of their answers. The
 * functions are defined once in the machine's long-lived shell (see
 * `ssh-shell.ts`), where calling them starts no process in the common case;
 * without that shell each call is an `sh -c` of its own. Every path is passed
 * as an argument, never pasted into code. An answer is one line of ASCII
 * (levels are named by their index, not their path), so it can be printed
 * with a single write.
 */
import { posix } from 'node:path';
import { shellJoin } from '../template/shell-words.js';
import type { ClaimRequest, ClaimResult, DirRefusalReason } from './machine.js';

/**
 * `cb_claim base markFile mark dir…` sets `R` to `ok new|old`, or
 * `base REASON N` (the base's N-th parent is the existing level that
 * stopped it), or `refuse REASON UID INDEX` (INDEX in the dirs). `umask 077`
 * makes every directory 0700 and the mark 0600.
 *
 * `cb_owns dir markFile mark` sets `R` to `yes` or `no`.
 *
 * `cb_remove dir markFile mark [emptyParent]` removes `dir` when `cb_owns`
 * says yes (then `emptyParent` if it is now empty) and sets `R` to
 * `removed`, `no` (nothing touched), or `failed STATUS ERR` (ERR: the
 * base64 of the end of `rm`'s stderr).
 *
 * Their variables start with `cb_`; they set nothing else.
 */
export const DIR_FUNCTIONS = `cb_claim() {
  umask 077
  cb_b=$1 cb_m=$2 cb_k=$3; shift 3
  cb_p=$cb_b cb_n=0
  while [ ! -e "$cb_p" ] && [ ! -L "$cb_p" ]; do cb_p=$(dirname -- "$cb_p"); cb_n=$((cb_n+1)); done
  [ -d "$cb_p" ] || { R="base not-directory $cb_n"; return; }
  [ -w "$cb_p" ] && [ -x "$cb_p" ] || { R="base unwritable $cb_n"; return; }
  if [ "$cb_n" != 0 ]; then mkdir -p -- "$cb_b" 2>/dev/null || { R="base unwritable $cb_n"; return; }; fi
  cb_e=0 cb_i=-1
  for cb_d; do
    cb_i=$((cb_i+1))
    if [ ! -e "$cb_d" ] && [ ! -L "$cb_d" ]; then
      mkdir -- "$cb_d" 2>/dev/null && { cb_e=0; continue; }
      # Made meanwhile (by another service of the run, say): checked like any that exists.
      [ -e "$cb_d" ] || [ -L "$cb_d" ] || { R="refuse unwritable 0 $cb_i"; return; }
    fi
    if [ -L "$cb_d" ]; then R="refuse symlink 0 $cb_i"; return; fi
    [ -d "$cb_d" ] || { R="refuse not-directory 0 $cb_i"; return; }
    [ -O "$cb_d" ] || { R="refuse foreign $(ls -nd -- "$cb_d" | awk '{print $3}') $cb_i"; return; }
    cb_e=1
  done
  if [ $cb_e = 1 ]; then
    cb_f=$(cat -- "$cb_d/$cb_m" 2>/dev/null)
    [ "$cb_f" = "$cb_k" ] && { R='ok old'; return; }
    cb_l=$(ls -A -- "$cb_d")
    # A cloudboot killed while writing the mark leaves the mark alone, cut short.
    if [ -n "$cb_l" ]; then
      [ "$cb_l" = "$cb_m" ] && case $cb_k in "$cb_f"*) true ;; *) false ;; esac ||
        { R="refuse taken 0 $cb_i"; return; }
      # Rewritten below; a symbolic link in its place is removed, never written through.
      if [ -L "$cb_d/$cb_m" ]; then rm -f -- "$cb_d/$cb_m" || { R="refuse unwritable 0 $cb_i"; return; }; fi
    fi
  fi
  printf '%s\\n' "$cb_k" 2>/dev/null >"$cb_d/$cb_m" || { R="refuse unwritable 0 $cb_i"; return; }
  R='ok new'
}
cb_owns() {
  if [ ! -L "$1" ] && [ -d "$1" ] && [ -O "$1" ] && [ "$(cat -- "$1/$2" 2>/dev/null)" = "$3" ]; then R=yes; else R=no; fi
}
cb_remove() {
  cb_owns "$1" "$2" "$3"
  [ "$R" = yes ] || { R=no; return; }
  cb_x=$(rm -rf -- "$1" 2>&1 >/dev/null) || { R="failed $? $(printf %s "$cb_x" | tail -c 900 | base64 | tr -d '\n')"; return; }
  [ -z "$4" ] || rmdir -- "$4" 2>/dev/null
  R=removed
}
`;

/** The call that claims a directory in a shell where {@link DIR_FUNCTIONS} are defined. */
export function claimCall(request: ClaimRequest): string {
  return shellJoin(['cb_claim', request.base, request.markFile, request.mark, ...request.chain]);
}

/** The call that checks ownership of a directory (see {@link DIR_FUNCTIONS}). */
export function ownsCall(dir: string, markFile: string, mark: string): string {
  return shellJoin(['cb_owns', dir, markFile, mark]);
}

/** The call that removes a directory this run owns (see {@link DIR_FUNCTIONS}). */
export function removeCall(
  dir: string,
  markFile: string,
  mark: string,
  emptyParent?: string,
): string {
  return shellJoin([
    'cb_remove',
    dir,
    markFile,
    mark,
    ...(emptyParent === undefined ? [] : [emptyParent]),
  ]);
}

/**
 * Reads a removal's answer (see {@link DIR_FUNCTIONS}): whether the
 * directory was this run's (and is gone now), or why `rm` failed.
 * @throws Error when the answer is not one of its lines.
 */
export function parseRemoval(
  answer: string,
  dir: string,
): { readonly removed: boolean } | { readonly failure: string } {
  const line = answer.trim();
  if (line === 'removed' || line === 'no') return { removed: line === 'removed' };
  const failed = /^failed (\d+) ?(\S*)$/.exec(line);
  if (failed === null) throw new Error(`unexpected answer while removing ${dir}: ${line}`);
  const stderr = Buffer.from(failed[2] ?? '', 'base64')
    .toString('utf8')
    .trim();
  const command = shellJoin(['rm', '-rf', '--', dir]);
  return {
    failure: `${command} failed (exit status ${failed[1]})${stderr === '' ? '' : `: ${stderr}`}`,
  };
}

/** A command line that runs `call` in a shell of its own and prints `R`. */
export function standalone(call: string): string {
  return shellJoin(['sh', '-c', `${DIR_FUNCTIONS}${call}\nprintf '%s\\n' "$R"`]);
}

/**
 * Reads a claim's answer (see {@link DIR_FUNCTIONS}).
 * @throws Error when the answer is not one of its lines.
 */
export function parseClaim(answer: string, request: ClaimRequest): ClaimResult {
  const line = answer.trim();
  if (line === 'ok new' || line === 'ok old') return { ok: true, existed: line === 'ok old' };
  const base = /^base (not-directory|unwritable) (\d+)$/.exec(line);
  if (base !== null) {
    let path = request.base;
    for (let up = Number(base[2]); up > 0; up--) path = posix.dirname(path);
    return { ok: false, reason: base[1] as DirRefusalReason, path, inBase: true };
  }
  const refuse = /^refuse (symlink|not-directory|foreign|unwritable|taken) (\d+) (\d+)$/.exec(line);
  const path = refuse === null ? undefined : request.chain[Number(refuse[3])];
  if (refuse === null || path === undefined) {
    throw new Error(`unexpected answer while preparing a directory: ${line}`);
  }
  const reason = refuse[1] as DirRefusalReason;
  return {
    ok: false,
    reason,
    path,
    inBase: false,
    ...(reason === 'foreign' && { uid: Number(refuse[2]) }),
  };
}
