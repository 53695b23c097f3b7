/**
 * vitest global setup: the test suite must leave nothing behind. Before the
 * tests, the entries of /tmp and /dev/shm are noted and every process the
 * suite starts is tagged (an environment variable its workers, and what they
 * start, inherit); afterwards a tagged process still alive, or a new entry,
 * fails the run with the list of leftovers.
 *
 * New entries fail the run under CI (`CI` set: the machine runs nothing
 * else); elsewhere they are only reported, since other work on the machine
 * may write there too. Processes are told apart by the tag, so they always
 * count.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const TAG = 'CLOUDBOOT_TEST_SUITE';
const PLACES = ['/tmp', '/dev/shm'];
/** How long processes get to finish exiting after the last test. */
const SETTLE_MS = 3_000;
/** Caches of the toolchain that outlive a run by design (created once per machine). */
const TOOL_CACHES = [/^tsx-\d+$/, /^node-compile-cache$/, /^v8-compile-cache/];

function entries(): Set<string> {
  const all = new Set<string>();
  for (const place of PLACES) {
    if (!existsSync(place)) continue;
    for (const entry of readdirSync(place)) all.add(`${place}/${entry}`);
  }
  return all;
}

/** Live processes (not zombies) carrying `TAG=id`, except the direct children of this one (the workers). */
function tagged(id: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (!env.includes(`${TAG}=${id}`)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || Number(ppid) === process.pid) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      found.push(`pid ${pid}: ${cmd}`);
    } catch {
      // Gone meanwhile, or not readable.
    }
  }
  return found;
}

/**
 * Notes what exists and tags the suite's processes; returns the check to run
 * at the end. `project` is vitest's: its own temporary directory is removed
 * by vitest after this check, so it does not count.
 */
export default function setup(project?: { readonly tmpDir?: string }): () => Promise<void> {
  const before = entries();
  if (project?.tmpDir !== undefined) before.add(project.tmpDir);
  const id = randomUUID();
  process.env[TAG] = id;
  return async () => {
    const deadline = Date.now() + SETTLE_MS;
    let processes = tagged(id);
    while (processes.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      processes = tagged(id);
    }
    const files = [...entries()].filter(
      (entry) =>
        !before.has(entry) &&
        !TOOL_CACHES.some((cache) => cache.test(entry.split('/').at(-1) ?? '')),
    );
    const strict =
      process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
    const problems = [
      ...processes.map((p) => `process still running: ${p}`),
      ...files.map((f) => `${strict ? '' : '(not counted outside CI) '}left behind: ${f}`),
    ];
    if (problems.length > 0)
      console.error(`The test suite left things behind:\n  ${problems.join('\n  ')}`);
    if (processes.length > 0 || (strict && files.length > 0)) {
      // vitest reports an error thrown here but still exits 0.
      console.error(
        `The test suite fails: it left ${processes.length} processes and ${strict ? files.length : 0} entries in ${PLACES.join(' and ')} behind.`,
      );
      process.exitCode = 1;
    }
  };
}
