/** Generated plans the benchmark boots. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalSession, type MachineSession, MemoryHostKeyStore } from '@cloudboot/core';
import { SshPool } from '@cloudboot/core/ssh';
import { startSshHosts } from '../harness/sshd.js';

/** What one benchmark run boots. */
export interface ScenarioSetup {
  readonly planFile: string;
  readonly dbDir: string;
  /** Time the program needs when run alone on the scenario's kind of machine (median of several). */
  calibrate(): Promise<number>;
  /**
   * Wall time of the same programs started by a plain shell loop, level by
   * level, with nothing else: the floor any orchestrator on this machine has
   * (local scenarios only).
   */
  floor?(): Promise<number>;
  /**
   * Whether the run's services are shut down (their working directories
   * removed) right after the boot. Local runs leave theirs under the
   * bench's root, which is removed once every scenario has run: see
   * `run.ts` for why.
   */
  readonly shutDown: boolean;
  /** Stops and removes what cannot wait for the end of the bench. */
  cleanup(): Promise<void>;
}

/** A benchmark scenario. */
export interface Scenario {
  readonly name: string;
  readonly services: number;
  readonly levels: number;
  /** Programs each service runs (boot and ready). */
  readonly programsPerService: number;
  readonly concurrency?: number;
  /** Runs only when named (`--only NAME`): too slow for every `pnpm bench`. */
  readonly onRequest?: boolean;
  /** Prepares run `index`; its files go below `root`, which the bench removes at its end. */
  setup(index: number, root: string): Promise<ScenarioSetup>;
}

interface PlanShape {
  readonly levels: number;
  readonly perLevel: number;
  /** Body of the boot and ready programs. */
  readonly program: string;
  /** Extra `[defaults]` lines. */
  readonly defaults: string;
  /** Base of the working directories on the machines. */
  readonly workdir: string;
  /** Per service section lines, by level and index (for spreading over machines). */
  readonly serviceLines?: (level: number, index: number) => string;
}

function writeGeneratedPlan(root: string, shape: PlanShape): string {
  writeFileSync(join(root, 'pgm.sh'), `#!/bin/sh\n${shape.program}\n`, { mode: 0o755 });
  const runlevels: string[] = [];
  for (let level = 1; level <= shape.levels; level++) {
    runlevels.push(`level${level}: level${level}.conf`);
    const sections: string[] = [];
    if (shape.serviceLines === undefined) {
      sections.push(`[svc-l${level}]\nreplica_count: ${shape.perLevel}\n`);
    } else {
      for (let i = 0; i < shape.perLevel; i++)
        sections.push(`[svc-l${level}-s${i}]\n${shape.serviceLines(level, i)}\n`);
    }
    writeFileSync(join(root, `level${level}.conf`), sections.join('\n'));
  }
  const top = join(root, 'top.conf');
  writeFileSync(
    top,
    `[defaults]\nbootpgm: pgm.sh\nreadypgm: pgm.sh\nworkdir: ${shape.workdir}\n${shape.defaults}\n[runlevels]\n${runlevels.join('\n')}\n`,
  );
  return top;
}

const CALIBRATION_RUNS = 15;

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

async function medianRun(session: MachineSession, program: string, cwd: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CALIBRATION_RUNS; i++) {
    times.push((await session.run({ program, args: [], cwd, timeoutMs: 30_000 })).durationMs);
  }
  return median(times);
}

function localScenario(
  name: string,
  levels: number,
  perLevel: number,
  program: string,
  onRequest = false,
): Scenario {
  return {
    name,
    onRequest,
    services: levels * perLevel,
    levels,
    programsPerService: 2,
    async setup(_index, benchRoot) {
      const root = mkdtempSync(join(benchRoot, 'local-'));
      const planFile = writeGeneratedPlan(root, {
        levels,
        perLevel,
        program,
        defaults: 'local_exe: true\nhostname: 127.0.0.1',
        workdir: join(root, 'work'),
      });
      return {
        planFile,
        dbDir: join(root, 'db'),
        floor: async () => {
          const pgm = join(root, 'pgm.sh');
          const loop = `for l in $(seq ${levels}); do for i in $(seq ${perLevel}); do (setsid ${pgm}; setsid ${pgm}) & done; wait; done`;
          const started = performance.now();
          execFileSync('/bin/sh', ['-c', loop]);
          return performance.now() - started;
        },
        calibrate: async () => {
          const session = new LocalSession();
          try {
            return await medianRun(session, join(root, 'pgm.sh'), root);
          } finally {
            session.close();
          }
        },
        shutDown: false,
        cleanup: async () => {},
      };
    },
  };
}

function sshScenario(name: string, machines: number, levels: number, perLevel: number): Scenario {
  return {
    name,
    services: levels * perLevel,
    levels,
    programsPerService: 2,
    async setup(_index, benchRoot) {
      const root = mkdtempSync(join(benchRoot, 'ssh-'));
      // The machines' login user must be able to create it: not under root's temp dir.
      const remote = `/tmp/cloudboot-bench-ssh-${randomBytes(4).toString('hex')}`;
      const hosts = await startSshHosts({ count: machines });
      const planFile = writeGeneratedPlan(root, {
        levels,
        perLevel,
        program: 'exit 0',
        workdir: remote,
        defaults: `ssh_username: ${hosts.username}\nlocalsshkeypath: ${hosts.clientKeyPath}`,
        serviceLines: (level, i) => {
          const host = hosts.hosts[(level * perLevel + i) % machines];
          return `hostname: ${host?.address}\nssh_port: ${host?.port}`;
        },
      });
      return {
        planFile,
        dbDir: join(root, 'db'),
        calibrate: async () => {
          const pool = new SshPool({ hostKeys: new MemoryHostKeyStore() });
          try {
            const host = hosts.hosts[0];
            const target = {
              kind: 'ssh' as const,
              host: host?.address ?? '',
              port: host?.port ?? 22,
              username: hosts.username,
              privateKeyPath: hosts.clientKeyPath,
            };
            const session = await pool.session(target, { timeoutMs: 10_000 });
            const dir = `${remote}/calibration`;
            await session.run({ program: 'mkdir', args: ['-p', dir], cwd: '/', timeoutMs: 10_000 });
            await session.writeFile(`${dir}/pgm.sh`, '#!/bin/sh\nexit 0\n', 0o755);
            return await medianRun(session, `${dir}/pgm.sh`, dir);
          } finally {
            await pool.close();
          }
        },
        shutDown: true,
        cleanup: async () => {
          await hosts.stop();
          rmSync(root, { recursive: true, force: true });
          rmSync(remote, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  localScenario('local 10 levels × 100 trivial', 10, 100, 'exit 0'),
  localScenario('local 5 levels × 20, programs sleep 0.2 s', 5, 20, 'sleep 0.2'),
  localScenario('local 10 levels × 1000 trivial', 10, 1000, 'exit 0', true),
  sshScenario('ssh 3 levels × 20 over 10 machines', 10, 3, 20),
];
