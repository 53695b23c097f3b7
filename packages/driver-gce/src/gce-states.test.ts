import { INSTANCE_STATES } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { GCE_STATE_MAP, GCE_STATUSES, stateOf } from './gce-states.js';

describe('GCE status map', () => {
  it('maps every documented status onto a cloudboot state', () => {
    for (const status of GCE_STATUSES) {
      expect(INSTANCE_STATES).toContain(GCE_STATE_MAP[status]);
    }
    expect(Object.keys(GCE_STATE_MAP).sort()).toEqual([...GCE_STATUSES].sort());
  });

  it('treats TERMINATED as a stopped VM and REPAIRING as coming back', () => {
    expect(stateOf('TERMINATED')).toBe('stopped');
    expect(stateOf('REPAIRING')).toBe('pending');
    expect(stateOf('STOPPING')).toBe('stopping');
    expect(stateOf('RUNNING')).toBe('running');
    expect(stateOf('SOMETHING_NEW')).toBe('pending');
  });
});
