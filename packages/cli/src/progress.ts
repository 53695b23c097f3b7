/**
 * Human progress of an operation: a header naming the run, one block per
 * level with a line per service (state and time), failure details with the
 * tail of the failing program's output, and a closing line.
 */
import { join } from 'node:path';
import type {
  CloudBootEvent,
  CloudEvent,
  LevelEvent,
  OperationKind,
  OperationResult,
  Plan,
  ProgramEvent,
  ServiceEvent,
  ServiceState,
} from '@cloudboot/core';
import type { Output } from './io.js';
import { boardLines } from './live-board.js';
import type { LiveRegion } from './live-region.js';
import { duration, type KnownMachine, StageTracker } from './service-stages.js';

/** The run an operation works on, as progress needs it. */
export interface ProgressRun {
  readonly name: string;
  readonly plan: Plan;
  /** The run's log directory (`<logDir>/<run>`). */
  readonly logDir: string;
  /** Current state of a service. */
  state(service: string): ServiceState;
  /** The instance and address a service has now. */
  machine(service: string): KnownMachine;
}

/** How {@link Progress} reports services in flight. */
export interface ProgressOptions {
  /**
   * When stdout is not a terminal: after how long a service in flight gets a
   * `still in STAGE (ELAPSED)` line, and again after each such interval.
   */
  readonly stillIntervalMs?: number;
  /** Aborted on Ctrl-C: the live block is removed before anything else is printed. */
  readonly signal?: AbortSignal;
}

/** Default interval of "still in" lines. */
const STILL_INTERVAL_MS = 30_000;

const VERBS: Readonly<Record<OperationKind, string>> = {
  boot: 'booting',
  status: 'checking',
  repair: 'repairing',
  shutdown: 'terminating',
};

const NOUNS: Readonly<Record<OperationKind, string>> = {
  boot: 'boot',
  status: 'status',
  repair: 'repair',
  shutdown: 'terminate',
};

/** Lines of program output shown under a failure. */
const TAIL_LINES = 10;

/** Seconds with two decimals: `0.12s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function lastLines(text: string): string[] {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines[0] === '' ? [] : lines.slice(-TAIL_LINES);
}

/** What a user can do after an operation failed. */
function nextStep(operation: OperationKind, run: string, interrupted: boolean): string {
  if (interrupted) {
    return operation === 'shutdown'
      ? `"cloudboot terminate ${run}" finishes the shutdown`
      : `"cloudboot resume ${run}" continues from where it stopped`;
  }
  return operation === 'shutdown'
    ? `fix the terminate program and run "cloudboot terminate ${run}" again, or add --dash-nine to skip terminate programs`
    : `"cloudboot repair ${run}" restarts services that are not ready; "cloudboot terminate ${run}" tears the run down`;
}

/** Prints the events of one run's operations. */
export class Progress {
  readonly #out: Output;
  readonly #run: ProgressRun;
  #width = 0;
  /** Services that reported complete or error in the current operation. */
  readonly #finished = new Set<string>();
  /** Services repair restarted in the current operation. */
  readonly #restarted = new Set<string>();
  readonly #stages: StageTracker;
  readonly #options: ProgressOptions;
  #live: LiveRegion | undefined;
  /** Counts starts and stops of the live block: a block loaded after its stop is not drawn. */
  #liveGeneration = 0;
  #still: NodeJS.Timeout | undefined;
  /** When each in-flight service was last said to be still running. */
  readonly #said = new Map<string, number>();
  readonly #onAbort = () => this.#stopLive();
  /** What the cloud said about each service's instance in the current operation. */
  readonly #cloud = new Map<string, CloudEvent>();

  constructor(out: Output, run: ProgressRun, options: ProgressOptions = {}) {
    this.#out = out;
    this.#run = run;
    this.#options = options;
    this.#stages = new StageTracker((service) => run.machine(service));
  }

  /** Header of an operation; names the run. Starts the in-flight display. */
  begin(operation: OperationKind, note = ''): void {
    this.#finished.clear();
    this.#restarted.clear();
    this.#stages.clear();
    this.#said.clear();
    this.#cloud.clear();
    const levels = this.#run.plan.levels;
    this.#width = Math.max(16, ...levels.flatMap((l) => l.services.map((s) => s.name.length))) + 1;
    const services = levels.reduce((n, l) => n + l.services.length, 0);
    this.#out.info(
      `run ${this.#run.name}: ${VERBS[operation]} ${plural(services, 'service')} in ${plural(levels.length, 'level')}${note}`,
    );
    this.#startInFlight();
  }

  /** Prints one event. */
  event(event: CloudBootEvent): void {
    this.#stages.apply(event);
    if (event.type === 'level') this.#level(event);
    else if (event.type === 'program') this.#program(event);
    else if (event.type === 'cloud') this.#cloudView(event);
    else this.#service(event);
  }

  /**
   * Levels that never started, the log directory, and the closing line.
   * `success` is the command's verdict (for status: every service ready).
   */
  end(result: OperationResult, success: boolean): void {
    this.stop();
    for (const level of result.levels) {
      if (level.status === 'not-executed') {
        const why = result.interrupted ? 'interrupted' : 'an earlier level failed';
        this.#out.info(
          `level ${level.level} (${plural(level.services.length, 'service')}) not started: ${why}`,
        );
      }
    }
    for (const account of result.throttledAccounts) {
      this.#out.info(
        `cloud ${account.account} throttled ${account.throttled} of ${plural(account.calls, 'call')}: ` +
          `cloudboot slowed down and retried them; a lower api_calls_per_second (now ${account.limitPerSecond}) saves those calls`,
      );
    }
    this.#out.info(`logs: ${this.#run.logDir}`);
    if (!success)
      this.#out.warn(`next: ${nextStep(result.operation, this.#run.name, result.interrupted)}`);
    const all = this.#run.plan.levels.flatMap((l) => l.services.map((s) => s.name));
    const goal: ServiceState = result.operation === 'shutdown' ? 'terminated' : 'ready';
    const reached = all.filter((s) => this.#run.state(s) === goal).length;
    const failed = result.failures.map((f) => f.service);
    const verdict = success
      ? 'ok'
      : this.#out.paint('red', result.interrupted ? 'INTERRUPTED' : 'FAILED');
    this.#out.final(
      `run ${this.#run.name}: ${NOUNS[result.operation]} ${verdict} in ${seconds(result.durationMs)}: ` +
        `${reached} of ${plural(all.length, 'service')} ${goal}` +
        (failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''),
    );
  }

  /** Stops the in-flight display (the live block or the "still in" timer). */
  stop(): void {
    clearInterval(this.#still);
    this.#still = undefined;
    this.#stopLive();
  }

  #startInFlight(): void {
    this.stop();
    if (!this.#out.shows('info')) return;
    if (this.#out.live) {
      if (this.#options.signal?.aborted) return;
      const generation = this.#liveGeneration;
      // The terminal renderer is loaded only for a live block, not by every command.
      void import('./live-region.js').then(({ LiveRegion }) => {
        if (generation !== this.#liveGeneration || this.#options.signal?.aborted) return;
        const live = new LiveRegion(this.#out.terminal, (width, height) =>
          boardLines(this.#stages.inFlight(), {
            nameWidth: this.#width,
            width,
            height,
            now: Date.now(),
            mark: (text) => this.#out.paint('dim', text),
          }),
        );
        this.#live = live;
        this.#out.routeLines(live);
        this.#options.signal?.addEventListener('abort', this.#onAbort);
      });
      return;
    }
    const every = this.#options.stillIntervalMs ?? STILL_INTERVAL_MS;
    this.#still = setInterval(() => this.#sayStill(every), Math.min(1000, every / 4));
    this.#still.unref();
  }

  #stopLive(): void {
    this.#liveGeneration++;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (this.#live === undefined) return;
    this.#out.routeLines(undefined);
    this.#live.stop();
    this.#live = undefined;
  }

  /** `  web-3: still in boot program (1m30s)` for each service quiet for `every` ms. */
  #sayStill(every: number): void {
    const now = Date.now();
    for (const s of this.#stages.inFlight()) {
      const said = this.#said.get(s.service) ?? s.startedAt;
      if (now - said < every) continue;
      this.#said.set(s.service, now);
      this.#out.info(`  ${s.service}: still in ${s.stage} (${duration(now - s.startedAt)})`);
    }
  }

  #level(event: LevelEvent): void {
    const { level, services } = event;
    if (event.action === 'starting') {
      this.#out.info(`level ${level} (${plural(services.length, 'service')})`);
      return;
    }
    for (const name of services) {
      if (!this.#finished.has(name)) {
        const state = this.#run.state(name);
        this.#out.info(`  ${this.#out.paint('dim', '-')} ${this.#row(name, state)} skipped`);
      }
    }
    const took = seconds(event.elapsedMs ?? 0);
    if (event.action === 'complete') {
      this.#out.info(`level ${level} done in ${took}`);
    } else {
      const failed = services.filter((s) => this.#run.state(s) === 'failed').length;
      this.#out.error(
        `level ${level} failed in ${took}: ${failed} of ${plural(services.length, 'service')} failed`,
      );
    }
  }

  #service(event: ServiceEvent): void {
    const name = event.service;
    switch (event.action) {
      case 'starting':
        if (this.#finished.delete(name)) {
          // Repair restarts a service whose check failed.
          this.#restarted.add(name);
          this.#out.info(
            `  ${this.#out.paint('yellow', '↻')} ${this.#row(name, event.state)} restarting`,
          );
        } else {
          this.#out.debug(`  · ${name}: starting from ${event.state}`);
        }
        return;
      case 'transition': {
        const detail = event.detail !== undefined ? ` (${event.detail})` : '';
        this.#out.debug(`  · ${name}: ${event.previous ?? '?'} -> ${event.state}${detail}`);
        return;
      }
      case 'complete':
        this.#finished.add(name);
        this.#out.info(
          `  ${this.#out.paint('green', '✓')} ${this.#row(name, event.state)} ${seconds(event.elapsedMs ?? 0)}${this.#cloudNote(name, event.operation)}`,
        );
        return;
      case 'error':
        this.#finished.add(name);
        this.#failure(event);
    }
  }

  /** The cloud's view, printed once the service's line is: at once only when it cannot be had. */
  #cloudView(event: CloudEvent): void {
    this.#cloud.set(event.service, event);
    if (event.error !== undefined) {
      this.#out.warn(`  ${event.service}: instance ${event.instanceId}: ${event.error}`);
    } else {
      this.#out.debug(
        `  · ${event.service}: instance ${event.instanceId} is ${event.state} in the cloud (${event.nativeState}); recorded ${event.recorded}`,
      );
    }
  }

  /** `  instance vm-1: cloud says running` after a service's line, when the cloud was asked. */
  #cloudNote(name: string, operation: OperationKind): string {
    const view = this.#cloud.get(name);
    // A replaced instance's view is stale once repair launched another.
    if (view?.state === undefined || (operation === 'repair' && this.#restarted.has(name)))
      return '';
    return `  instance ${view.instanceId}: cloud says ${view.state}`;
  }

  #program(event: ProgramEvent): void {
    const how = event.timedOut
      ? 'timed out'
      : event.exitCode === null
        ? 'was killed'
        : `exited ${event.exitCode}`;
    this.#out.debug(
      `  · ${event.service}: ${event.program} ${how} after ${seconds(event.durationMs)}`,
    );
  }

  #failure(event: ServiceEvent): void {
    const name = event.service;
    const error = event.error;
    // In repair, a failed check is followed by a restart: not an error yet.
    const checkOnly = event.operation === 'repair' && !this.#restarted.has(name);
    const print = (line: string) => (checkOnly ? this.#out.info(line) : this.#out.error(line));
    const state = `${checkOnly ? 'not ready' : 'failed'}${error !== undefined ? ` (${error.phase})` : ''}`;
    const mark = checkOnly ? this.#out.paint('yellow', '!') : this.#out.paint('red', '✗');
    print(`  ${mark} ${this.#row(name, state)} ${seconds(event.elapsedMs ?? 0)}`);
    if (error === undefined) return;
    // A driver's message may span lines (every problem of its settings): each
    // line stays under the service it belongs to.
    for (const line of error.message.split('\n')) print(line === '' ? '' : `    ${line}`);
    for (const [label, text] of [
      ['stderr', error.stderrTail],
      ['stdout', error.stdoutTail],
    ] as const) {
      let prefix = `    ${label}: `;
      for (const line of lastLines(text)) {
        print(`${prefix}${line}`);
        prefix = ' '.repeat(prefix.length);
      }
    }
    print(`    log: ${join(this.#run.logDir, `${name}.log`)}`);
  }

  #row(name: string, state: string): string {
    return `${name.padEnd(this.#width)}${state.padEnd(17)} `;
  }
}
