/**
 * A block of lines at the bottom of a terminal that is redrawn in place
 * (log-update does the cursor work), with finished lines printed above it.
 * Every change goes out in one write, so the terminal never shows a
 * half-erased block.
 */
import ansiEscapes from 'ansi-escapes';
import { createLogUpdate } from 'log-update';
import type { TextSink } from './io.js';

/** How often the block is redrawn at most (10 times a second). */
const REDRAW_MS = 100;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches colour escapes
const COLOUR = /\u001b\[[0-9;]*m/g;

/** Columns a line takes on the screen (colour escapes take none). */
export function visibleLength(line: string): number {
  return line.replace(COLOUR, '').length;
}

/** The stream log-update writes to: collects one frame, then sends it at once. */
class FrameBuffer {
  #text = '';
  readonly #sink: TextSink;

  constructor(sink: TextSink) {
    this.#sink = sink;
  }

  get columns(): number {
    return this.#sink.columns ?? 80;
  }

  get rows(): number {
    return this.#sink.rows ?? 24;
  }

  write(text: string): boolean {
    this.#text += text;
    return true;
  }

  flush(): void {
    if (this.#text === '') return;
    this.#sink.write(this.#text);
    this.#text = '';
  }
}

/**
 * The live block of a terminal. `render` returns the block's lines, each
 * already fitted to `width` columns (a line must not wrap, so that the block
 * can be found again after a resize).
 */
export class LiveRegion {
  readonly #sink: TextSink;
  readonly #frame: FrameBuffer;
  readonly #update: ReturnType<typeof createLogUpdate>;
  readonly #render: (width: number, height: number) => readonly string[];
  #shown: readonly string[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #onResize = () => this.#resized();
  #stopped = false;

  constructor(sink: TextSink, render: (width: number, height: number) => readonly string[]) {
    this.#sink = sink;
    this.#render = render;
    this.#frame = new FrameBuffer(sink);
    this.#update = createLogUpdate(this.#frame as unknown as NodeJS.WritableStream);
    this.#timer = setInterval(() => this.redraw(), REDRAW_MS);
    this.#timer.unref();
    sink.on?.('resize', this.#onResize);
  }

  /** Prints `text` (whole lines) above the block, then redraws the block. */
  print(text: string): void {
    if (this.#stopped) {
      this.#sink.write(text);
      return;
    }
    this.#erase();
    this.#frame.write(text);
    this.#draw();
    this.#frame.flush();
  }

  /** Redraws the block if its lines changed (called by the timer). */
  redraw(): void {
    if (this.#stopped) return;
    this.#draw();
    this.#frame.flush();
  }

  /** Removes the block and shows the cursor again; later prints go straight out. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#sink.off?.('resize', this.#onResize);
    this.#erase();
    this.#update.done();
    this.#frame.flush();
  }

  #draw(): void {
    const lines = this.#render(this.#frame.columns, this.#frame.rows);
    if (lines.length === 0) {
      this.#erase();
      return;
    }
    this.#update(lines.join('\n'));
    this.#shown = lines;
  }

  #erase(): void {
    if (this.#shown.length === 0) return;
    this.#update.clear();
    this.#shown = [];
  }

  /**
   * A terminal that got narrower may have wrapped the block's lines (tmux and
   * most emulators reflow): erase the extra rows too, then draw again.
   */
  #resized(): void {
    if (this.#stopped) return;
    const width = Math.max(1, this.#frame.columns);
    const rows = this.#shown.reduce(
      (n, line) => n + Math.max(1, Math.ceil(visibleLength(line) / width)),
      0,
    );
    const extra = rows - this.#shown.length;
    this.#erase();
    if (extra > 0) this.#frame.write(ansiEscapes.cursorUp(extra) + ansiEscapes.eraseDown);
    this.#draw();
    this.#frame.flush();
  }
}
