/** Generated plans the benchmark boots. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshHosts } from '../harness/sshd.js';

/** What one benchmark run boots. */
export interface ScenarioSetup {
  readonly planFile: string;
  readonly dbDir: string;
  cleanup(): Promise<void>;
}

/** A benchmark scenario. */
export interface Scenario {
  readonly name: string;
  readonly services: number;
  readonly concurrency?: number;
  setup(index: number): Promise<ScenarioSetup>;
}

interface PlanShape {
  readonly levels: number;
  readonly perLevel: number;
  /** Body of the boot and ready programs. */
  readonly program: string;
  /** Extra `[defaults]` lines. */
  readonly defaults: string;
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
    `[defaults]\nbootpgm: pgm.sh\nreadypgm: pgm.sh\nworkdir: ${join(root, 'work')}\n${shape.defaults}\n[runlevels]\n${runlevels.join('\n')}\n`,
  );
  return top;
}

function localScenario(name: string, levels: number, perLevel: number, program: string): Scenario {
  return {
    name,
    services: levels * perLevel,
    async setup() {
      const root = mkdtempSync(join(tmpdir(), 'cloudboot-bench-'));
      const planFile = writeGeneratedPlan(root, {
        levels,
        perLevel,
        program,
        defaults: 'local_exe: true\nhostname: 127.0.0.1',
      });
      return {
        planFile,
        dbDir: join(root, 'db'),
        cleanup: async () => rmSync(root, { recursive: true, force: true }),
      };
    },
  };
}

function sshScenario(name: string, machines: number, levels: number, perLevel: number): Scenario {
  return {
    name,
    services: levels * perLevel,
    async setup() {
      const root = mkdtempSync(join(tmpdir(), 'cloudboot-bench-'));
      const hosts = await startSshHosts({ count: machines });
      const planFile = writeGeneratedPlan(root, {
        levels,
        perLevel,
        program: 'exit 0',
        defaults: `ssh_username: ${hosts.username}\nlocalsshkeypath: ${hosts.clientKeyPath}`,
        serviceLines: (level, i) => {
          const host = hosts.hosts[(level * perLevel + i) % machines];
          return `hostname: ${host?.address}\nssh_port: ${host?.port}`;
        },
      });
      return {
        planFile,
        dbDir: join(root, 'db'),
        cleanup: async () => {
          await hosts.stop();
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
  };
}

/** Every scenario, in the order they run. */
export const SCENARIOS: readonly Scenario[] = [
  localScenario('local 10 levels × 100 trivial', 10, 100, 'exit 0'),
  localScenario('local 5 levels × 20, programs sleep 0.2 s', 5, 20, 'sleep 0.2'),
  sshScenario('ssh 3 levels × 20 over 10 machines', 10, 3, 20),
];
