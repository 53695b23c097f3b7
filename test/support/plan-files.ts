/**
 * Test helpers that write plan files into a fresh temporary directory and
 * give each test its own database and working directories.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

/** A temporary directory with a plan in it. */
export interface PlanDir {
  /** Root of the temporary directory. */
  readonly root: string;
  /** Database directory for runs of this test. */
  readonly dbDir: string;
  /** Base of services' working directories (`workdir` key). */
  readonly workdir: string;
  /** Absolute path of a file under root. */
  path(...parts: string[]): string;
  /** Reads a file under root as text. */
  read(...parts: string[]): string;
  /** Removes everything. */
  remove(): void;
}

/**
 * Writes `files` (relative path -> content) under a new temp dir; `.sh`
 * files are made executable. `${WORKDIR}` and `${ROOT}` in contents are
 * replaced by the test's directories.
 */
export function writePlan(files: Readonly<Record<string, string>>): PlanDir {
  const root = mkdtempSync(join(tmpdir(), 'cloudboot-test-'));
  const workdir = join(root, 'machine');
  for (const [name, content] of Object.entries(files)) {
    const file = join(root, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content.replaceAll('${WORKDIR}', workdir).replaceAll('${ROOT}', root));
    if (name.endsWith('.sh')) chmodSync(file, 0o755);
  }
  return {
    root,
    dbDir: join(root, 'db'),
    workdir,
    path: (...parts) => join(root, ...parts),
    read: (...parts) => readFileSync(join(root, ...parts), 'utf8'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The sample plan of the design brief (a copy in test/fixtures), made to run in a test's own directories. */
export function samplePlan(): PlanDir {
  const base = new URL('../fixtures/sample-plan/', import.meta.url).pathname;
  const names = [
    'top.conf',
    'levels/data.conf',
    'levels/web.conf',
    'files/database.json',
    'files/database_boot.sh',
    'files/database_deps.conf',
    'files/database_ready.sh',
    'files/database_stop.sh',
    'files/web.json',
    'files/web_boot.sh',
    'files/web_deps.conf',
    'files/web_ready.sh',
  ];
  const files: Record<string, string> = {};
  for (const name of names) files[name] = readFileSync(join(base, name), 'utf8');
  files['top.conf'] =
    files['top.conf']?.replace('[defaults]', '[defaults]\nworkdir: ${WORKDIR}') ?? '';
  return writePlan(files);
}

/**
 * Registers clean-up for the calling test file and returns `track`: every
 * plan directory passed to it is removed after the test that made it.
 */
export function planDirs(): (dir: PlanDir) => PlanDir {
  let dirs: PlanDir[] = [];
  afterEach(() => {
    for (const d of dirs) d.remove();
    dirs = [];
  });
  return (dir) => {
    dirs.push(dir);
    return dir;
  };
}
