import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_OPEN_LOG_FILES, ServiceLogs } from './service-log.js';

/** This process's open descriptors on files under `dir`. */
function openUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`);
    } catch {
      return false; // closed since it was listed
    }
  }).length;
}

describe('ServiceLogs', () => {
  it('keeps at most MAX_OPEN_LOG_FILES log files open, and reopens one that is written again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloudboot-logs-'));
    try {
      const logs = new ServiceLogs(dir);
      const count = MAX_OPEN_LOG_FILES + 50;
      for (let i = 0; i < count; i++) logs.note(`s${i}`, 'first');
      const last = logs.path(`s${count - 1}`);
      for (let waited = 0; waited < 10_000; waited += 20) {
        if (readdirSync(dir).length === count && readFileSync(last, 'utf8') !== '') break;
        await sleep(20);
      }
      expect(readFileSync(last, 'utf8')).toMatch(/\] first\n$/);
      expect(openUnder(dir)).toBe(MAX_OPEN_LOG_FILES);
      // s0's file was the first closed: it is opened again and appended to.
      logs.note('s0', 'second');
      await logs.close();
      expect(openUnder(dir)).toBe(0);
      expect(readFileSync(logs.path('s0'), 'utf8')).toMatch(
        /^\[[^\n]+\] first\n\[[^\n]+\] second\n$/,
      );
      for (let i = 1; i < count; i++) {
        expect(readFileSync(logs.path(`s${i}`), 'utf8')).toMatch(/^\[[^\n]+\] first\n$/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
