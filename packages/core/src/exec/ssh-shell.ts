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
 * - `ID v VALUE`: a call of a shell function defined at the start (see
 *   `ssh-dirs.ts`) ended; VALUE is what it set `R` to (one ASCII line).
 * - `ID pid N BASE`: a program started, leading its own session and
 *   process group N (`setsid`); its files are named BASE.pid, BASE.out…
 *   `ID pid64 N BASE64(BASE)` when BASE holds a line break.
 * - `ID exit STATUS OUT ERR WAITED`: a program ended; STATUS is what its
 *   recorder wrote to the status file, or `x` when there is none (the
 *   recorder was killed); OUT and ERR are 1 when its stdout or stderr file
 *   is not empty.
 * - `ID nowrite`: the program to upload before the start could not be written.
 *
 * Every line is printed with one write of less than 4 KiB, so lines of
 * jobs running side by side never mix. The shell starts as few processes as
 * it can: a program start costs a subshell (its recorder) and `setsid`,
 * which becomes the program; helper functions and status files use
 * builtins.
 *
 * A program runs in a session and process group of its own, with its output
 * in files next to it in its working directory; its pid file is written
 * before its pid is reported. The subshell that started it, outside that
 * group, waits for it and writes its exit status to a file (128 + the
 * signal for a program a signal ended, as a shell says). The recorder
 * outlives the connection (it carries on through SIGHUP, SIGPIPE and the
 * shell's end), so after a drop the program is found again by its files
 * (see `SshMachine`), status and all.
 */
import type { ClientChannel } from 'ssh2';
import { shellJoin, shellQuote } from '../template/shell-words.js';
import type { RunRequest } from './machine.js';
import { DIR_FUNCTIONS } from './ssh-dirs.js';

/** Output kept of a helper command's stdout and stderr (they must fit one pipe write together). */
const HELPER_STDOUT_BYTES = 1800;
const HELPER_STDERR_BYTES = 900;

/**
 * The line the shell prints once it is usable: `0 ready HOME` (the home
 * directory as it is), or `0 ready64 BASE64(HOME)` for a home directory
 * whose name holds a line break.
 */
const READY = /^0 (ready|ready64) (.*)$/;

/**
 * Run first: a check for the tools the protocol needs, and `cb_d`, which
 * makes the shell's private directory `$D` (helper output, the files of a
 * program whose working directory is not writable) on first need and has it
 * removed when the shell ends; should the shell be killed, the next shell of
 * the user that makes one removes it. Most connections never need it: a boot
 * and a teardown do without, and so without a `mktemp` at the start and an
 * `rm` at the end of every connection. The login shell's start-up has
 * already run; the shell starts in the home directory.
 */
const PROLOGUE = `umask 077
command -v setsid >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1 || { echo '0 missing'; exit 0; }
D=
cb_d() {
  [ -n "$D" ] && return 0
  cb_t=\${TMPDIR:-/tmp}
  for cb_s in "$cb_t"/cloudboot-sh-*; do
    cb_p=\${cb_s##*/cloudboot-sh-}; cb_p=\${cb_p%%-*}
    [ -d "$cb_s" ] && [ -O "$cb_s" ] && ! kill -0 "$cb_p" 2>/dev/null && rm -rf -- "$cb_s"
  done
  D=$(mktemp -d "$cb_t/cloudboot-sh-$$-XXXXXX") || { D=; return 1; }
  trap 'rm -rf "$D"' EXIT
}
trap 'exit 1' HUP TERM INT
${DIR_FUNCTIONS}case $PWD in
*'
'*) printf '0 ready64 %s\\n' "$(pwd | base64 | tr -d '\\n')" ;;
*) printf '0 ready %s\\n' "$PWD" ;;
esac
`;

/**
 * The shell code that prints `ID exit STATUS OUT ERR WAITED` for the
 * program whose files start with `$b`; WAITED is its wait status when
 * known. Builtins only.
 */
function exitReport(id: number, waited: string): string {
  return (
    `s=x; [ -s "$b.status" ] && read -r s <"$b.status"; o=0; e=0; ` +
    `[ -s "$b.out" ] && o=1; [ -s "$b.err" ] && e=1; echo "${id} exit $s $o $e ${waited}"`
  );
}

/**
 * Shell code that reports program `id`'s pid (shell word `pid`) and the base
 * name of its files (`$b`): as it is, or base64-encoded when it holds a
 * line break (the working directory's name may).
 */
function pidReport(id: number, pid: string): string {
  return (
    `case $b in *'\n'*) echo "${id} pid64 ${pid} $(printf %s "$b" | base64 | tr -d '\\n')" ;; ` +
    `*) echo "${id} pid ${pid} $b" ;; esac`
  );
}

/** Shell code: base64 of what a step says when `cb_d` cannot make the private directory. */
const NO_PRIVATE_DIR = `$(printf 'cannot make a private directory in %s\\n' "\${TMPDIR:-/tmp}" | base64 | tr -d '\\n')`;

/** Files up to this size are written from the shell's input; larger ones over SFTP. */
export const INLINE_FILE_BYTES = 256 * 1024;

/**
 * Shell code (bytes: the data may be any) that writes `data` to `path`
 * replacing what is there, and fails (status non-zero) when it cannot. A
 * regular file is rewritten in place; anything else in its place (a symbolic
 * link or a FIFO a program left) is removed first, never written through.
 * Data holding a NUL byte, which no shell word can hold, goes through
 * `base64 -d`.
 */
export function writeCode(path: string, data: string | Uint8Array): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  const p = shellQuote(path);
  // Only shell built-ins unless something must be removed.
  const clear = Buffer.from(
    `{ if [ -L ${p} ] || { [ -e ${p} ] && [ ! -f ${p} ]; }; then rm -f -- ${p} 2>/dev/null; fi; `,
  );
  const target = Buffer.from(` 2>/dev/null >${p}; }`);
  if (bytes.includes(0)) {
    const encoded = bytes.toString('base64');
    return Buffer.concat([clear, Buffer.from(`printf %s '${encoded}' | base64 -d`), target]);
  }
  // Single quotes keep every byte but the quote itself, written as '\''.
  const quoted = bytes.toString('latin1').replaceAll("'", "'\\''");
  return Buffer.concat([
    clear,
    Buffer.from('printf %s '),
    Buffer.from(`'${quoted}'`, 'latin1'),
    target,
  ]);
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
 * was killed; `written` says whether its stdout and stderr files hold
 * anything; `signal` is the number of the signal that ended it, when
 * known), `nocwd` (its working directory could not be entered),
 * `nowrite` (the program file to upload could not be written), or
 * `unstarted` (found again after a drop, it never started).
 */
export type ProgramEnd =
  | {
      readonly kind: 'exit';
      readonly status: number | null;
      readonly written: readonly [boolean, boolean];
      readonly signal?: number;
    }
  | { readonly kind: 'nocwd'; readonly message: string }
  | { readonly kind: 'nowrite' }
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

/** How long files to remove are collected before one `rm` removes them all. */
const DISCARD_DELAY_MS = 100;

/** One long-lived remote shell; see the module comment. */
export class RemoteShell {
  /** The login user's home directory (where the shell started). */
  readonly home: string;
  readonly #channel: ClientChannel;
  readonly #helpers = new Map<number, Pending>();
  readonly #calls = new Map<number, Pick<Pending, 'reject'> & { resolve: (v: string) => void }>();
  readonly #programs = new Map<number, ProgramEvents>();
  readonly #onRoundTrip: () => void;
  #next = 1;
  #closed = false;
  readonly #lost: Array<() => void> = [];
  #discarded: string[] = [];
  #discardTimer: NodeJS.Timeout | undefined;

  private constructor(channel: ClientChannel, home: string, onRoundTrip: () => void) {
    this.#channel = channel;
    this.home = home;
    this.#onRoundTrip = onRoundTrip;
  }

  /**
   * Starts the shell on `channel` (an exec of `/bin/sh -s`). Resolves with
   * `undefined` when the shell runs but cannot serve (no `setsid`,
   * `base64` or private directory): the caller then runs one exec channel
   * per step. Rejects when the command does not run at all (the channel
   * closed before the shell said anything), with its status and stderr.
   */
  static start(channel: ClientChannel, onRoundTrip: () => void): Promise<RemoteShell | undefined> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      let stderr = '';
      let status = 'no exit status';
      let answered = false;
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
          answered = true;
          const ready = READY.exec(line);
          if (ready === null) {
            channel.close();
            resolve(undefined);
            return;
          }
          const home =
            ready[1] === 'ready'
              ? Buffer.from(ready[2] ?? '', 'latin1').toString('utf8')
              : Buffer.from(ready[2] ?? '', 'base64')
                  .toString('utf8')
                  .replace(/\n$/, '');
          shell = new RemoteShell(channel, home, onRoundTrip);
          resolve(shell);
        }
      };
      channel.on('data', onData);
      channel.stderr.on('data', (chunk: Buffer) => {
        if (shell === undefined && stderr.length < 2048) stderr += chunk.toString('utf8');
      });
      channel.on('exit', (code: number | null, signal?: string) => {
        status = code !== null ? `exit status ${code}` : `signal ${signal ?? '?'}`;
      });
      channel.on('close', () => {
        if (shell !== undefined) shell.#onClose();
        else if (answered) resolve(undefined);
        else {
          const why = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
          reject(new Error(`"/bin/sh -s" ended before it was ready (${status})${why}`));
        }
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
    const tail = (file: string, bytes: number): string =>
      `"$([ -s "$D/${file}" ] && tail -c ${bytes} "$D/${file}" | base64 | tr -d '\\n')"`;
    return new Promise((resolve, reject) => {
      this.#helpers.set(id, { resolve, reject });
      this.#channel.write(
        `if cb_d; then { ${script}\n} </dev/null >"$D/o" 2>"$D/e"; printf '${id} r %s %s %s\\n' $? ` +
          `${tail('o', HELPER_STDOUT_BYTES)} ${tail('e', HELPER_STDERR_BYTES)}; ` +
          `else printf '${id} r 125 %s %s\\n' '' "${NO_PRIVATE_DIR}"; fi\n`,
      );
    });
  }

  /**
   * Runs shell code that sets `R` to a one-line ASCII answer (calls of the
   * functions of `ssh-dirs.ts`), in the foreground of the shell, and
   * resolves with `R`. `code` may be bytes (files written from the input).
   * Rejects with {@link ShellLostError} when the connection drops first.
   */
  call(code: string | Buffer): Promise<string> {
    if (this.#closed) return Promise.reject(new ShellLostError());
    const id = this.#next++;
    this.#onRoundTrip();
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#channel.write(
        Buffer.concat([
          Buffer.from('R=\n{ '),
          typeof code === 'string' ? Buffer.from(code) : code,
          Buffer.from(`\n} </dev/null >/dev/null 2>&1; printf '${id} v %s\\n' "$R"\n`),
        ]),
      );
    });
  }

  /** Sends shell code that answers nothing (run in the background). */
  send(script: string): void {
    if (this.#closed) return;
    this.#channel.write(`{ ${script}\n} </dev/null >/dev/null 2>&1 &\n`);
  }

  /** Removes files soon, together with others discarded meanwhile (one `rm` for all). */
  discard(paths: readonly string[]): void {
    this.#discarded.push(...paths);
    this.#discardTimer ??= setTimeout(() => this.#flushDiscarded(), DISCARD_DELAY_MS);
  }

  #flushDiscarded(): void {
    clearTimeout(this.#discardTimer);
    this.#discardTimer = undefined;
    const paths = this.#discarded.splice(0);
    if (paths.length > 0) this.send(shellJoin(['rm', '-f', '--', ...paths]));
  }

  /**
   * Starts a program in the background, in its own session, with a
   * recorder; its pid, output and status go to files named
   * `.cloudboot-NAME.*` in its working directory (in the shell's private
   * directory when the working directory is not writable). With
   * `request.install` (at most {@link INLINE_FILE_BYTES}) the program file
   * is written first.
   */
  startProgram(request: RunRequest, name: string, events: ProgramEvents): void {
    const id = this.#listen(events);
    // A program word starting with "-" would be read as an option.
    const program = request.program.startsWith('-') ? `./${request.program}` : request.program;
    const assignments = Object.entries(request.env ?? {})
      .map(([key, value]) => `${key}=${shellQuote(value)} `)
      .join('');
    const args = shellJoin([program, ...request.args]);
    const cwd = shellQuote(request.cwd);
    const install =
      request.install === undefined
        ? []
        : [
            Buffer.from('{ '),
            writeCode(request.program, request.install.data),
            Buffer.from(
              ` && chmod ${request.install.mode.toString(8)} -- ${shellQuote(request.program)}; } 2>/dev/null || { echo '${id} nowrite'; exit; }; `,
            ),
          ];
    this.#channel.write(
      Buffer.concat([
        // The private directory, made in this shell, is needed only when the
        // working directory cannot hold the program's files.
        Buffer.from(
          `{ [ -w ${cwd} ] || [ ! -d ${cwd} ] || cb_d; }; ` +
            `( trap true HUP TERM INT PIPE; cd -- ${cwd} 2>/dev/null || { echo "${id} nocwd $( (cd -- ${cwd}) 2>&1 | base64 | tr -d '\\n')"; exit; }; `,
        ),
        ...install,
        Buffer.from(
          `if [ -w . ]; then b="$PWD/.cloudboot-${name}"; elif [ -n "$D" ]; then b="$D/${name}"; ` +
            `else echo "${id} nocwd ${NO_PRIVATE_DIR}"; exit; fi; [ -e "$b.status" ] && rm -f -- "$b.status"; ` +
            `${assignments}setsid ${args} </dev/null >"$b.out" 2>"$b.err" & p=$!; ` +
            // The pid file is there before anyone learns the pid: a program known is a program found again.
            `echo $p >"$b.pid"; ${pidReport(id, '$p')}; ` +
            // A trapped signal interrupts `wait`: wait again while the program lives.
            `while wait $p; w=$?; kill -0 $p 2>/dev/null; do :; done; echo $w >"$b.status"; ${exitReport(id, '$w')} ) &\n`,
        ),
      ]),
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
      `( b=${shellQuote(base)}; p=; [ -s "$b.pid" ] && read -r p <"$b.pid"; [ -n "$p" ] || { echo '${id} pid x'; exit; }; ${pidReport(id, '$p')}; ` +
        `while [ ! -s "$b.status" ] && kill -0 "$p" 2>/dev/null; do sleep 0.2; done; ` +
        // Its recorder writes the status just after the program is gone.
        `[ -s "$b.status" ] || sleep 0.2; ${exitReport(id, '0')} ) &\n`,
    );
  }

  /** Ends the shell (programs it started keep running); the channel closes. */
  close(): void {
    if (this.#closed) return;
    this.#flushDiscarded();
    this.#channel.end();
  }

  #listen(events: ProgramEvents): number {
    const id = this.#next++;
    this.#programs.set(id, events);
    this.#onRoundTrip();
    return id;
  }

  #onLine(line: string): void {
    const [idText, kind, a, b, c, d] = line.split(' ');
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
    if (kind === 'v') {
      const pending = this.#calls.get(id);
      this.#calls.delete(id);
      pending?.resolve(line.slice(`${idText} v `.length));
      return;
    }
    const events = this.#programs.get(id);
    if (events === undefined) return;
    if (kind === 'pid' && a !== 'x') {
      // The base is the rest of the line: it may hold blanks.
      events.onPid(Number(a), line.slice(`${idText} pid ${a} `.length));
      return;
    }
    if (kind === 'pid64') {
      events.onPid(Number(a), Buffer.from(b ?? '', 'base64').toString('utf8'));
      return;
    }
    this.#programs.delete(id);
    if (kind === 'pid') events.onExit({ kind: 'unstarted' });
    else if (kind === 'nowrite') events.onExit({ kind: 'nowrite' });
    else if (kind === 'nocwd') {
      events.onExit({ kind: 'nocwd', message: Buffer.from(a ?? '', 'base64').toString('utf8') });
    } else if (kind === 'exit') {
      const waited = Number(d);
      events.onExit({
        kind: 'exit',
        status: a === 'x' || a === undefined ? null : Number(a),
        written: [b === '1', c === '1'],
        ...(waited > 128 && { signal: waited - 128 }),
      });
    }
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#discardTimer);
    for (const pending of [...this.#helpers.values(), ...this.#calls.values()]) {
      pending.reject(new ShellLostError());
    }
    this.#helpers.clear();
    this.#calls.clear();
    this.#programs.clear();
    for (const listener of this.#lost.splice(0)) listener();
  }
}
