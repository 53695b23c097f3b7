import { INSTANCE_STATES } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import {
  OPENSTACK_NATIVE_STATES,
  OPENSTACK_STATE_MAP,
  openstackState,
} from './openstack-states.js';

describe('OpenStack server states', () => {
  it('maps every Nova status onto a core state, and nothing else', () => {
    for (const native of OPENSTACK_NATIVE_STATES) {
      expect(INSTANCE_STATES).toContain(OPENSTACK_STATE_MAP[native]);
    }
    expect(Object.keys(OPENSTACK_STATE_MAP).sort()).toEqual([...OPENSTACK_NATIVE_STATES].sort());
  });

  it('covers the statuses the Compute API documents', () => {
    for (const status of [
      'BUILD',
      'ACTIVE',
      'SHUTOFF',
      'ERROR',
      'DELETED',
      'SOFT_DELETED',
      'REBOOT',
      'HARD_REBOOT',
      'RESIZE',
      'VERIFY_RESIZE',
      'PAUSED',
      'SUSPENDED',
      'SHELVED',
      'SHELVED_OFFLOADED',
      'MIGRATING',
      'RESCUE',
      'UNKNOWN',
    ]) {
      expect(OPENSTACK_NATIVE_STATES).toContain(status);
    }
  });

  it('reads a server being deleted as stopping, and an unheard-of status as pending', () => {
    expect(openstackState('ACTIVE', 'deleting')).toBe('stopping');
    expect(openstackState('DELETED', 'deleting')).toBe('terminated');
    expect(openstackState('ACTIVE', null)).toBe('running');
    expect(openstackState('ERROR')).toBe('stopped');
    expect(openstackState('SOMETHING_NEW')).toBe('pending');
  });
});
