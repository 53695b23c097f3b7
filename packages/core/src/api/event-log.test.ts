import { describe, expect, it } from 'vitest';
import type { CloudBootEvent } from '../engine/events.js';
import { EventLog } from './event-log.js';

const EVENTS: CloudBootEvent[] = [
  {
    type: 'level',
    action: 'starting',
    operation: 'boot',
    level: 1,
    services: ['db', 'web'],
    at: 1_764_500_000_123,
  },
  {
    type: 'service',
    action: 'starting',
    operation: 'boot',
    service: 'db',
    level: 1,
    state: 'pending',
    at: 1_764_500_000_124,
  },
  {
    type: 'service',
    action: 'transition',
    operation: 'boot',
    service: 'db',
    level: 1,
    state: 'launching',
    previous: 'pending',
    detail: 'tok-1',
    at: 1_764_500_000_125,
  },
  // The same template as the one before, with other values.
  {
    type: 'service',
    action: 'transition',
    operation: 'boot',
    service: 'web',
    level: 1,
    state: 'launching',
    previous: 'pending',
    detail: 'tok-2',
    at: 1_764_500_000_126,
  },
  {
    type: 'program',
    operation: 'boot',
    service: 'db',
    level: 1,
    program: 'bootpgm',
    exitCode: null,
    timedOut: true,
    durationMs: 0.1 + 0.2,
    at: 1_764_500_000_127,
  },
  {
    type: 'service',
    action: 'error',
    operation: 'boot',
    service: 'db',
    level: 1,
    state: 'failed',
    at: 1_764_500_000_128,
    elapsedMs: 12.345678,
    error: {
      phase: 'contextualize',
      message: 'boot program exited 3',
      stderrTail: 'e',
      stdoutTail: '',
    },
  },
  {
    type: 'cloud',
    operation: 'status',
    service: 'web',
    level: 2,
    instanceId: 'i-1',
    recorded: 'ready',
    error: 'no answer',
    at: 1_764_500_000_129,
  },
  {
    type: 'level',
    action: 'complete',
    operation: 'boot',
    level: 1,
    services: ['db', 'web'],
    at: 1_764_500_000_130,
    elapsedMs: 7,
  },
];

describe('EventLog', () => {
  it('gives back every kind of event equal to what was appended, keys in the same order', () => {
    const log = new EventLog();
    for (const event of EVENTS) log.push(event);
    expect(log.length).toBe(EVENTS.length);
    for (const [i, event] of EVENTS.entries()) {
      const read = log.at(i);
      expect(read).toStrictEqual(event);
      // What `--json`-style consumers print is unchanged too.
      expect(JSON.stringify(read)).toBe(JSON.stringify(event));
    }
    expect(log.at(EVENTS.length)).toBeUndefined();
    expect(log.at(-1)).toBeUndefined();
    expect(log.slice(5)).toStrictEqual(EVENTS.slice(5));
    expect(log.slice(EVENTS.length)).toEqual([]);
  });

  it('keeps values, not the objects appended: each read is a new object', () => {
    const log = new EventLog();
    const event = EVENTS[2] as CloudBootEvent;
    log.push(event);
    expect(log.at(0)).not.toBe(event);
    expect(log.at(0)).not.toBe(log.at(0));
  });

  it('grows past its first capacity without losing or reordering events', () => {
    const log = new EventLog();
    const count = 10_000;
    for (let i = 0; i < count; i++) {
      log.push({
        type: 'service',
        action: 'transition',
        operation: 'boot',
        service: `svc-${i}`,
        level: 1 + (i % 10),
        state: 'reachable',
        previous: 'addressed',
        detail: i % 2 === 0 ? 'local' : `127.0.0.${i % 250}`,
        at: 1_764_500_000_000 + i,
      });
    }
    expect(log.length).toBe(count);
    for (const i of [0, 1, 255, 256, 257, 4097, count - 1]) {
      expect(log.at(i)).toMatchObject({
        service: `svc-${i}`,
        level: 1 + (i % 10),
        detail: i % 2 === 0 ? 'local' : `127.0.0.${i % 250}`,
        at: 1_764_500_000_000 + i,
      });
    }
  });
});
