/**
 * Private directories on a machine reached over SSH: the POSIX shell scripts
 * behind {@link MachineSession.claimDir} and {@link MachineSession.ownsDir},
 * each one round trip, and the parsing of what they print. Every path is
 * passed as an argument (`sh -c SCRIPT sh ARGS…`), never pasted into code.
 */
import { shellJoin } from '../template/shell-words.js';
import type { ClaimRequest, ClaimResult, DirRefusalReason } from './machine.js';

/**
 * argv: base markFile mark dir… ; prints one line: `ok new|old`, or
 * `base REASON PATH`, or `refuse REASON UID PATH`. `umask 077` makes every
 * directory 0700 and the mark 0600.
 */
const CLAIM_SCRIPT = `umask 077
base=$1; markfile=$2; mark=$3; shift 3
p=$base
while [ ! -e "$p" ] && [ ! -L "$p" ]; do p=$(dirname -- "$p"); done
[ -d "$p" ] || { printf 'base not-directory %s\\n' "$p"; exit 0; }
[ -w "$p" ] && [ -x "$p" ] || { printf 'base unwritable %s\\n' "$p"; exit 0; }
if [ "$p" != "$base" ]; then mkdir -p -- "$base" 2>/dev/null || { printf 'base unwritable %s\\n' "$p"; exit 0; }; fi
existed=0
for d; do
  if [ ! -e "$d" ] && [ ! -L "$d" ]; then
    mkdir -- "$d" 2>/dev/null && { existed=0; continue; }
    # Made meanwhile (by another service of the run, say): checked like any that exists.
    [ -e "$d" ] || [ -L "$d" ] || { printf 'refuse unwritable 0 %s\\n' "$d"; exit 0; }
  fi
  if [ -L "$d" ]; then printf 'refuse symlink 0 %s\\n' "$d"; exit 0; fi
  [ -d "$d" ] || { printf 'refuse not-directory 0 %s\\n' "$d"; exit 0; }
  [ -O "$d" ] || { printf 'refuse foreign %s %s\\n' "$(ls -nd -- "$d" | awk '{print $3}')" "$d"; exit 0; }
  existed=1
done
if [ $existed = 1 ]; then
  found=$(cat -- "$d/$markfile" 2>/dev/null)
  [ "$found" = "$mark" ] && { echo 'ok old'; exit 0; }
  entries=$(ls -A -- "$d")
  # A cloudboot killed while writing the mark leaves the mark alone, cut short.
  if [ -n "$entries" ]; then
    [ "$entries" = "$markfile" ] && case $mark in "$found"*) true ;; *) false ;; esac ||
      { printf 'refuse taken 0 %s\\n' "$d"; exit 0; }
  fi
fi
printf '%s\\n' "$mark" > "$d/$markfile" || { printf 'refuse unwritable 0 %s\\n' "$d"; exit 0; }
echo 'ok new'
`;

/** argv: dir markFile mark ; prints `yes` or `no`. */
const OWNS_SCRIPT = `if [ ! -L "$1" ] && [ -d "$1" ] && [ -O "$1" ] && [ "$(cat -- "$1/$2" 2>/dev/null)" = "$3" ]; then echo yes; else echo no; fi
`;

/** The command line that claims a directory (see {@link CLAIM_SCRIPT}). */
export function claimCommand(request: ClaimRequest): string {
  return shellJoin([
    'sh',
    '-c',
    CLAIM_SCRIPT,
    'sh',
    request.base,
    request.markFile,
    request.mark,
    ...request.chain,
  ]);
}

/** The command line that checks ownership of a directory (see {@link OWNS_SCRIPT}). */
export function ownsCommand(dir: string, markFile: string, mark: string): string {
  return shellJoin(['sh', '-c', OWNS_SCRIPT, 'sh', dir, markFile, mark]);
}

/**
 * Reads what {@link CLAIM_SCRIPT} printed.
 * @throws Error when the output is not one of its lines.
 */
export function parseClaim(output: string): ClaimResult {
  const line = output.trim();
  if (line === 'ok new' || line === 'ok old') return { ok: true, existed: line === 'ok old' };
  const base = /^base (not-directory|unwritable) (.*)$/s.exec(line);
  if (base !== null) {
    return { ok: false, reason: base[1] as DirRefusalReason, path: base[2] ?? '', inBase: true };
  }
  const refuse = /^refuse (symlink|not-directory|foreign|unwritable|taken) (\d+) (.*)$/s.exec(line);
  if (refuse === null) throw new Error(`unexpected answer while preparing a directory: ${line}`);
  const reason = refuse[1] as DirRefusalReason;
  return {
    ok: false,
    reason,
    path: refuse[3] ?? '',
    inBase: false,
    ...(reason === 'foreign' && { uid: Number(refuse[2]) }),
  };
}
