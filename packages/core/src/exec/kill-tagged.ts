/**
 * The POSIX shell script behind {@link MachineSession.killTagged}, the same
 * on this machine and over SSH: finds processes by the tag in their
 * environment (`/proc/PID/environ`, readable for the login user's own
 * processes), and signals their process groups.
 */
import { type KilledGroups, PROGRAM_TAG } from './machine.js';

/**
 * argv: graceDeciseconds tag... ; prints `term PGID` and `kill PGID` lines.
 * A zombie is not counted: it is already dead.
 */
export const KILL_TAGGED_SCRIPT = `grace=$1; shift
pats=""
for t; do pats="$pats
${PROGRAM_TAG}=$t"; done
pats=\${pats#?}
scan() {
  for f in $(grep -l -a -F -e "$pats" /proc/[0-9]*/environ 2>/dev/null); do
    p=\${f#/proc/}; p=\${p%/environ}
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=\${s##*) }
    set -- $s
    [ "$1" = Z ] || echo "$3"
  done | sort -u
}
groups=$(scan)
[ -z "$groups" ] && exit 0
for g in $groups; do kill -s TERM -- "-$g" 2>/dev/null; echo "term $g"; done
i=0
while [ $i -lt "$grace" ]; do
  sleep 0.1
  [ -z "$(scan)" ] && exit 0
  i=$((i+1))
done
for g in $(scan); do kill -s KILL -- "-$g" 2>/dev/null; echo "kill $g"; done
exit 0
`;

/** Arguments of {@link KILL_TAGGED_SCRIPT} after the script name. */
export function killTaggedArgs(tokens: readonly string[], graceMs: number): string[] {
  return [String(Math.ceil(graceMs / 100)), ...tokens];
}

/** Reads what {@link KILL_TAGGED_SCRIPT} printed. */
export function parseKilled(output: string): KilledGroups {
  const terminated: number[] = [];
  const killed: number[] = [];
  for (const line of output.split('\n')) {
    const [what, pgid] = line.trim().split(' ');
    if (what === 'term') terminated.push(Number(pgid));
    else if (what === 'kill') killed.push(Number(pgid));
  }
  return { terminated, killed };
}
