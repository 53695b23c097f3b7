/**
 * One long-lived `/bin/sh` per SSH connection, started with a single exec
 * channel, through which every helper command and every program of the
 * machine runs: the login user's shell start-up (`~/.bashrc`…) is paid once
 * per connection, not once per step, and commands sent one after another
 * need no answer in between (they are pipelined on the channel).
 *
 * Protocol (the remote side of the local executor's long-lived shell):
 * one command per request is written to the shell's stdin; answers are
 * lines on its stdout starting with the request's id:
 * - `ID r STATUS OUT ERR`: a helper command ended; OUT and ERR are the
 *   base64 of the tails of its stdout and stderr.
 * - `ID pid N`: a program started, leading its own session and process
 *   group N (`setsid`).
 * - `ID exit STATUS`: a program ended; STATUS is what its wrapper wrote to
 *   the status file, or `x` when there is none (it was killed).
 *
 * A program runs under a small wrapper, inside its own process group, that
 * writes its pid, output and exit status to files next to it in its working
 * directory. The wrapper outlives a SIGTERM to the group (its trap runs
 * once the program ended), so a program stopped with SIGTERM still leaves
 * its status. Those outlive the connection: after a drop, the program is
 * found again by its files (see `SshMachine`).
 */
import type { ClientChannel } from 'ssh2';
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { RunRequest } from './machine.js';

/** Output kept of a helper command's stdout and stderr (they must fit one pipe write together). */
const HELPER_STDOUT_BYTES = 1800;
const HELPER_STDERR_BYTES = 900;

/** The line the shell prints once it is usable: `0 ready BASE64(home directory)`. */
const READY = /^0 ready (\S*)$/;

/**
 * Run first: a check for the tools the protocol needs, and a private
 * directory for helper output, removed when the shell ends (and, should
 * the shell be killed, by the next shell of the user that starts). The login shell's
 * start-up has already run; the shell starts in the home directory.
 */
const PROLOGUE = `umask 077
command -v setsid >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1 || { echo '0 missing'; exit 0; }
t=\${TMPDIR:-/tmp}
for d in "$t"/cloudboot-sh-*; do
  p=\${d##*/cloudboot-sh-}; p=\${p%%-*}
  [ -d "$d" ] && [ -O "$d" ] && ! kill -0 "$p" 2>/dev/null && rm -rf -- "$d"
done
D=$(mktemp -d "$t/cloudboot-sh-$$-XXXXXX") || { echo '0 missing'; exit 0; }
trap 'rm -rf "$D"' EXIT
trap 'exit 1' HUP TERM INT
printf '0 ready %s\\n' "$(pwd | base64 | tr -d '\\n')"
`;

/**
 * The wrapper a program runs under, in its own session. argv: pid file,
 * stdout file, stderr file, status file, program, args… The status is
 * written to a temporary name and renamed, so a reader sees all of it.
 */
const WRAPPER = `trap true TERM INT HUP
echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1"; o=$2 e=$3 s=$4; shift 4
"$@" </dev/null >"$o" 2>"$e"
echo $? >"$s.tmp" && mv -f "$s.tmp" "$s"
`;

/**
 * The shell code that prints `ID exit STATUS OUT-SIZE ERR-SIZE WAITED` for
 * the program whose files start with `$b`; WAITED is the wrapper's wait
 * status when known.
 */
function exitReport(id: number, waited: string): string {
  const size = (ext: string): string => `$(wc -c <"$b.${ext}" 2>/dev/null || echo 0)`;
  return `echo "${id} exit $(cat -- "$b.status" 2>/dev/null || echo x) ${size('out')} ${size('err')} ${waited}"`;
}

/** How a helper command ended. */
export interface ShellExit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The files of the program whose files start with `base`. */
export function programFiles(base: string): readonly string[] {
  return ['pid', 'out', 'err', 'status'].map((ext) => `${base}.${ext}`);
}

/**
 * How a program ended: `exit` (`status` is `null` when it left none: it
 * was killed; `sizes` are its stdout and stderr file sizes; `signal` is the
 * number of the signal that ended its wrapper, when known), `nocwd` (its
 * working directory could not be entered), or `unstarted` (found again
 * after a drop, it never started).
 */
export type ProgramEnd =
  | {
      readonly kind: 'exit';
      readonly status: number | null;
      readonly sizes: readonly [number, number];
      readonly signal?: number;
    }
  | { readonly kind: 'nocwd'; readonly message: string }
  | { readonly kind: 'unstarted' };

/** What a program's listener is told. */
export interface ProgramEvents {
  /** `base` starts the names of the program's files (`.pid`, `.out`, `.err`, `.status`). */
  readonly onPid: (pid: number, base: string) => void;
  readonly onExit: (end: ProgramEnd) => void;
}

/** Raised when the shell's channel closes while a request waits. */
export class ShellLostError extends Error {
  constructor() {
    super('the connection was lost');
    this.name = 'ShellLostError';
  }
}

interface Pending {
  readonly resolve: (exit: ShellExit) => void;
  readonly reject: (error: Error) => void;
}

/** One long-lived remote shell; see the module comment. */
export class RemoteShell {
  /** The login user's home directory (where the shell started). */
  readonly home: string;
  readonly #channel: ClientChannel;
  readonly #helpers = new Map<number, Pending>();
  readonly #programs = new Map<number, ProgramEvents>();
  readonly #onRoundTrip: () => void;
  #next = 1;
  #closed = false;
  readonly #lost: Array<() => void> = [];

  private constructor(channel: ClientChannel, home: string, onRoundTrip: () => void) {
    this.#channel = channel;
    this.home = home;
    this.#onRoundTrip = onRoundTrip;
  }

  /**
   * Starts the shell on `channel` (an exec of `/bin/sh -s`). Resolves with
   * `undefined` when it cannot be used (no `/bin/sh`, `setsid` or `base64`):
   * the caller then runs one exec channel per step.
   */
  static start(channel: ClientChannel, onRoundTrip: () => void): Promise<RemoteShell | undefined> {
    return new Promise((resolve) => {
      let buffered = '';
      let shell: RemoteShell | undefined;
      const onData = (chunk: Buffer): void => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          if (shell !== undefined) {
            shell.#onLine(line);
            continue;
          }
          const ready = READY.exec(line);
          if (ready === null) {
            channel.close();
            resolve(undefined);
            return;
          }
          shell = new RemoteShell(
            channel,
            Buffer.from(ready[1] ?? '', 'base64')
              .toString('utf8')
              .replace(/\n$/, ''),
            onRoundTrip,
          );
          resolve(shell);
        }
      };
      channel.on('data', onData);
      channel.stderr.resume();
      channel.on('close', () => {
        if (shell === undefined) resolve(undefined);
        else shell.#onClose();
      });
      onRoundTrip();
      channel.write(PROLOGUE);
    });
  }

  /** True once the channel closed (the connection dropped or the shell ended). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` once when the channel closes. */
  onLost(listener: () => void): void {
    if (this.#closed) listener();
    else this.#lost.push(listener);
  }

  /**
   * Runs a helper command (shell code) in the foreground of the shell.
   * Rejects with {@link ShellLostError} when the connection drops first.
   */
  command(script: string): Promise<ShellExit> {
    if (this.#closed) return Promise.reject(new ShellLostError());
    const id = this.#next++;
    this.#onRoundTrip();
    return new Promise((resolve, reject) => {
      this.#helpers.set(id, { resolve, reject });
      this.#channel.write(
        `{ ${script}\n} </dev/null >"$D/o" 2>"$D/e"; printf '${id} r %s %s %s\\n' $? ` +
          `"$(tail -c ${HELPER_STDOUT_BYTES} "$D/o" | base64 | tr -d '\\n')" ` +
          `"$(tail -c ${HELPER_STDERR_BYTES} "$D/e" | base64 | tr -d '\\n')"\n`,
      );
    });
  }

  /** Sends shell code that answers nothing (run in the background). */
  send(script: string): void {
    if (this.#closed) return;
    this.#channel.write(`{ ${script}\n} </dev/null >/dev/null 2>&1 &\n`);
  }

  /**
   * Starts a program in the background, in its own session, under the
   * wrapper that records its pid, output and status in files named
   * `.cloudboot-NAME.*` in its working directory (in the shell's private
   * directory when the working directory is not writable).
   */
  startProgram(request: RunRequest, name: string, events: ProgramEvents): void {
    const id = this.#listen(events);
    // A program word starting with "-" would be read as an option.
    const program = request.program.startsWith('-') ? `./${request.program}` : request.program;
    const assignments = Object.entries(request.env ?? {})
      .map(([key, value]) => `${key}=${shellQuote(value)} `)
      .join('');
    const wrapper = shellJoin(['setsid', 'sh', '-c', WRAPPER, 'sh']);
    const args = shellJoin([program, ...request.args]);
    const cwd = shellQuote(request.cwd);
    this.#channel.write(
      `( e=$(cd -- ${cwd} 2>&1) || { echo "${id} nocwd $(printf %s "$e" | base64 | tr -d '\\n')"; exit; }; cd -- ${cwd}; ` +
        `if [ -w . ]; then b="$PWD/.cloudboot-${name}"; else b="$D/${name}"; fi; rm -f -- "$b.status"; ` +
        `${assignments}${wrapper} "$b.pid" "$b.out" "$b.err" "$b.status" ${args} </dev/null >/dev/null 2>&1 & ` +
        `echo "${id} pid $! $b"; wait $!; w=$?; ${exitReport(id, '$w')} ) &\n`,
    );
  }

  /**
   * Waits (in the background) for a program started through an earlier
   * connection: reports its pid from its pid file, then its status once
   * it is written or the program is gone. `pid` is `x` in the report when
   * the program never started.
   */
  attachProgram(base: string, events: ProgramEvents): void {
    const id = this.#listen(events);
    this.#channel.write(
      `( b=${shellQuote(base)}; p=$(cat -- "$b.pid" 2>/dev/null); [ -n "$p" ] || { echo '${id} pid x'; exit; }; echo "${id} pid $p $b"; ` +
        `while [ ! -e "$b.status" ] && kill -0 "$p" 2>/dev/null; do sleep 0.2; done; ` +
        `${exitReport(id, '0')} ) &\n`,
    );
  }

  /** Ends the shell (programs it started keep running); the channel closes. */
  close(): void {
    if (this.#closed) return;
    this.#channel.end();
  }

  #listen(events: ProgramEvents): number {
    const id = this.#next++;
    this.#programs.set(id, events);
    this.#onRoundTrip();
    return id;
  }

  #onLine(line: string): void {
    // Sizes from `wc` may be padded with blanks; base64 fields may be empty.
    const [idText, kind, a, b, c, d] = line.startsWith(`${line.split(' ')[0]} r `)
      ? line.split(' ')
      : line.trim().split(/ +/);
    const id = Number(idText);
    if (kind === 'r') {
      const pending = this.#helpers.get(id);
      this.#helpers.delete(id);
      pending?.resolve({
        code: Number(a),
        stdout: Buffer.from(b ?? '', 'base64').toString('utf8'),
        stderr: Buffer.from(c ?? '', 'base64').toString('utf8'),
      });
      return;
    }
    const events = this.#programs.get(id);
    if (events === undefined) return;
    if (kind === 'pid' && a !== 'x') {
      // The base is the rest of the line: it may hold blanks.
      events.onPid(Number(a), line.slice(`${idText} pid ${a} `.length));
      return;
    }
    this.#programs.delete(id);
    if (kind === 'pid') events.onExit({ kind: 'unstarted' });
    else if (kind === 'nocwd') {
      events.onExit({ kind: 'nocwd', message: Buffer.from(a ?? '', 'base64').toString('utf8') });
    } else if (kind === 'exit') {
      const waited = Number(d);
      events.onExit({
        kind: 'exit',
        status: a === 'x' || a === undefined ? null : Number(a),
        sizes: [Number(b), Number(c)],
        ...(waited > 128 && { signal: waited - 128 }),
      });
    }
  }

  #onClose(): void {
    this.#closed = true;
    for (const pending of this.#helpers.values()) pending.reject(new ShellLostError());
    this.#helpers.clear();
    this.#programs.clear();
    for (const listener of this.#lost.splice(0)) listener();
  }
}
