/**
 * What the CLI reads and writes, passed in so tests can run it in-process,
 * and the {@link Output} that filters human lines by verbosity and writes
 * JSON lines.
 */

/** A stream the CLI writes text to (`process.stdout` fits). */
export interface TextSink {
  write(text: string): unknown;
  /** True when the stream is a terminal (colours and live progress are used only then). */
  readonly isTTY?: boolean;
  /** Width of the terminal. */
  readonly columns?: number;
  /** Height of the terminal. */
  readonly rows?: number;
  /** Subscribes to terminal resizes. */
  on?(event: 'resize', listener: () => void): unknown;
  /** Unsubscribes from terminal resizes. */
  off?(event: 'resize', listener: () => void): unknown;
}

/** Where human lines go: straight to stdout, or above a live block. */
export interface LineSink {
  print(text: string): void;
}

/** The CLI's surroundings. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Environment: `CLOUDBOOT_DBDIR`, `NO_COLOR`, and `env.NAME` plan values. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths on the command line are resolved against. */
  readonly cwd: string;
  /**
   * Aborted when the user interrupts (Ctrl-C): the running operation stops,
   * keeping every service's state for `resume`.
   */
  readonly signal?: AbortSignal;
  /**
   * When stdout is not a terminal: after how long without news a service in
   * flight gets a "still in" line (default 30 s).
   */
  readonly stillIntervalMs?: number;
}

/** Control characters (C0, DEL and C1). */
const CONTROL = /\p{Cc}/gu;

/**
 * `text` safe to show on a terminal: control characters other than newline
 * and tab are written as `\xNN` (an ESC byte from a binary file shows as
 * `\x1b` instead of driving the terminal).
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) =>
    c === '\n' || c === '\t' ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** How much human output to print, lowest first (`-l`, `-v` = debug, `-q` = error). */
export const VERBOSITIES = ['debug', 'info', 'warn', 'error'] as const;

/** One of {@link VERBOSITIES}. */
export type Verbosity = (typeof VERBOSITIES)[number];

const COLOURS = { red: 31, green: 32, yellow: 33, dim: 2 } as const;

/** A colour {@link Output.paint} knows. */
export type Colour = keyof typeof COLOURS;

/**
 * Human lines on stdout filtered by verbosity, or (with `--json`) JSON lines
 * only. Error messages of the CLI itself go to stderr.
 */
export class Output {
  readonly #io: CliIo;
  readonly #level: number;
  readonly #colour: boolean;
  #lines: LineSink | undefined;
  /** True with `--json`: human lines are dropped, {@link json} writes. */
  readonly json: boolean;
  /**
   * True when progress may be drawn in place: stdout is a terminal, no
   * `--json`, `TERM` is not `dumb` and `CI` is not set.
   */
  readonly live: boolean;

  constructor(io: CliIo, options: { verbosity: Verbosity; json: boolean }) {
    this.#io = io;
    this.#level = VERBOSITIES.indexOf(options.verbosity);
    this.json = options.json;
    const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
    const terminal = io.stdout.isTTY === true && io.env.TERM !== 'dumb';
    this.#colour = terminal && !noColor;
    const ci = io.env.CI !== undefined && io.env.CI !== '' && io.env.CI !== 'false';
    this.live = terminal && !ci && !options.json;
  }

  /** The terminal stdout is, when {@link live}. */
  get terminal(): TextSink {
    return this.#io.stdout;
  }

  /** Routes human lines through `sink` (a live block) until called with undefined. */
  routeLines(sink: LineSink | undefined): void {
    this.#lines = sink;
  }

  /** True when lines of `verbosity` are printed. */
  shows(verbosity: Verbosity): boolean {
    return !this.json && VERBOSITIES.indexOf(verbosity) >= this.#level;
  }

  /** Every transition and other detail (`-v`). */
  debug(line: string): void {
    this.#human('debug', line);
  }

  /** Normal progress. */
  info(line: string): void {
    this.#human('info', line);
  }

  /** Something the user should look at that is not a failure. */
  warn(line: string): void {
    this.#human('warn', line);
  }

  /** A failure (printed even with `-q`). */
  error(line: string): void {
    this.#human('error', line);
  }

  /** The closing line of a command: printed at every verbosity (not with `--json`). */
  final(line: string): void {
    if (!this.json) this.#write(`${line}\n`);
  }

  /** One JSON line (only with `--json`). */
  jsonLine(value: Readonly<Record<string, unknown>>): void {
    if (this.json) this.#io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** `text` in `colour` when stdout is a terminal and NO_COLOR is unset. */
  paint(colour: Colour, text: string): string {
    return this.#colour ? `\u001b[${COLOURS[colour]}m${text}\u001b[0m` : text;
  }

  #human(verbosity: Verbosity, line: string): void {
    if (this.shows(verbosity)) this.#write(`${line}\n`);
  }

  #write(text: string): void {
    if (this.#lines !== undefined) this.#lines.print(text);
    else this.#io.stdout.write(text);
  }
}
