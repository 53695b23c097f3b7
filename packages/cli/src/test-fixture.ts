/**
 * Test support (not part of the CLI): a small two-level plan of local
 * programs in a fresh temp dir, and `runCli` with captured output.
 * Level 1 is `database` (publishes `port`), level 2 `web-0`/`web-1`.
 * Programs append `boot NAME` / `terminate NAME` to `order.log`; the boot
 * program creates `alive-NAME`, the ready program requires it.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { runCli } from './cli.js';
import type { CliIo } from './io.js';

/** What a command line printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A plan in its own temp dir. */
export interface Fixture {
  readonly dir: string;
  readonly dbDir: string;
  readonly planFile: string;
  /** Base of the services' working directories (`workdir` key). */
  readonly workdir: string;
  /** Runs `cloudboot ARGV` in-process with `-d dbDir` added. */
  cli(argv: readonly string[], env?: Readonly<Record<string, string>>): Promise<CliRun>;
  /** Lines the programs appended to `order.log`. */
  order(): string[];
  /** Writes a file into the fixture dir (executable when `exec`). */
  write(name: string, text: string, exec?: boolean): string;
}

const BOOT = `#!/bin/sh
# boot.sh NAME DIR [MODE]
echo "boot $1" >> "$2/order.log"
if [ "$3" = fail ]; then echo "cannot boot $1: mode is fail" >&2; exit 3; fi
touch "$2/alive-$1"
echo '{"port": "5432"}' > bootout.json
`;
const READY = `#!/bin/sh
# ready.sh NAME DIR
[ -e "$2/alive-$1" ] || { echo "$1 is not alive" >&2; exit 1; }
`;
const TERMINATE = `#!/bin/sh
# term.sh NAME DIR
echo "terminate $1" >> "$2/order.log"
`;

/** Runs the CLI in-process and captures its output. */
export async function captureCli(
  argv: readonly string[],
  io: Omit<CliIo, 'stdout' | 'stderr'>,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    ...io,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/** Creates the fixture plan in a new temp dir, removed when the test finishes. */
export function makeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'cloudboot-cli-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const dbDir = join(dir, 'db');
  const workdir = join(dir, 'work');
  const write = (name: string, text: string, exec = false) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    if (exec) chmodSync(path, 0o755);
    return path;
  };
  write('boot.sh', BOOT, true);
  write('ready.sh', READY, true);
  write('term.sh', TERMINATE, true);
  const planFile = write(
    'top.conf',
    `[runlevels]
level1: level1.conf
level2: level2.conf

[defaults]
local_exe: true
hostname: localhost
workdir: ${workdir}
iaas_secret: hunter2

[globals]
mode: ok
`,
  );
  write(
    'level1.conf',
    `[svc-database]
bootpgm: boot.sh
bootpgm_args: database ${dir}
readypgm: ready.sh
readypgm_args: database ${dir}
terminatepgm: term.sh
terminatepgm_args: database ${dir}
`,
  );
  write(
    'level2.conf',
    `[svc-web]
replica_count: 2
bootpgm: boot.sh
bootpgm_args: web ${dir} \${global.mode} \${database.port}
readypgm: ready.sh
readypgm_args: web ${dir}
terminatepgm: term.sh
terminatepgm_args: web ${dir}
`,
  );
  return {
    dir,
    dbDir,
    planFile,
    workdir,
    write,
    cli: (argv, env = {}) => captureCli([...argv, '-d', dbDir], { env, cwd: dir }),
    order: () => {
      try {
        return readFileSync(join(dir, 'order.log'), 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    },
  };
}
