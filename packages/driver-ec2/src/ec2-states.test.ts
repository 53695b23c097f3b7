import { INSTANCE_STATES } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { EC2_NATIVE_STATES, EC2_STATE_MAP, ec2State } from './ec2-states.js';

describe('EC2 state map', () => {
  it('maps every EC2 state, and only those, onto a cloudboot state', () => {
    expect(Object.keys(EC2_STATE_MAP).sort()).toEqual([...EC2_NATIVE_STATES].sort());
    for (const state of EC2_NATIVE_STATES) expect(INSTANCE_STATES).toContain(ec2State(state));
  });

  it('keeps shutting-down and stopped apart from unknown', () => {
    expect(EC2_NATIVE_STATES.map(ec2State)).toEqual([
      'pending',
      'running',
      'stopping',
      'terminated',
      'stopping',
      'stopped',
    ]);
  });
});
