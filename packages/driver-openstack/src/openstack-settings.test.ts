import { DriverError } from '@cloudboot/core';
import { describe, expect, it } from 'vitest';
import { createDriver } from './openstack-driver.js';
import { OPENSTACK_KEYS, parseOpenstackSettings } from './openstack-settings.js';

describe('OpenStack plan keys', () => {
  it('reports every problem at once, naming each key', () => {
    let thrown: unknown;
    try {
      createDriver({
        os_netwrok: 'private',
        ssh_address: 'outside',
        os_interface: 'publicURL2',
        tags: 'team=a,oops,cloudboot-run=x',
        iaas_url: 'keystone.example.org',
        iaas_key: 'alice',
        os_username: 'bob',
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DriverError);
    expect((thrown as DriverError).kind).toBe('invalid-request');
    expect((thrown as DriverError).message).toBe(
      [
        'openstack: the plan has 7 problems with OpenStack keys:',
        `  os_netwrok: unknown key; the openstack driver knows ${Object.keys(OPENSTACK_KEYS).join(', ')}`,
        '  iaas_url: is "keystone.example.org"; expected Keystone\'s http(s) URL, e.g. https://keystone.example.org:5000/v3',
        '  os_username: iaas_key is given too; give one of them',
        '  ssh_address: is "outside"; expected public, private',
        '  os_interface: is "publicURL2"; expected public, internal, admin',
        '  tags: "oops" is not key=value; expected k1=v1,k2=v2',
        '  tags: cloudboot-run is set by cloudboot itself; choose another key',
      ].join('\n'),
    );
  });

  it('names an unknown os_ key and the keys it knows', () => {
    expect(() => parseOpenstackSettings({ os_flavor: 'm1.small' })).toThrow(
      /os_flavor: unknown key; the openstack driver knows os_cloud, os_auth_type, .*os_network, os_floating_ip_pool/,
    );
  });

  it('reads iaas_key/iaas_secret as an application credential with os_auth_type', () => {
    const settings = parseOpenstackSettings({
      iaas_url: 'https://keystone.example.org/v3',
      iaas_key: 'cred-id',
      iaas_secret: 'cred-secret',
      os_auth_type: 'v3applicationcredential',
      iaas: 'RegionTwo',
      tags: 'team=data, cost=42',
    });
    expect(settings).toEqual({
      auth: {
        authUrl: 'https://keystone.example.org/v3',
        authType: 'v3applicationcredential',
        applicationCredentialId: 'cred-id',
        applicationCredentialSecret: 'cred-secret',
      },
      region: 'RegionTwo',
      sshAddress: 'public',
      tags: { team: 'data', cost: '42' },
    });
  });

  it('refuses password keys with application credentials', () => {
    expect(() =>
      parseOpenstackSettings({
        os_application_credential_id: 'x',
        os_password: 'pw',
        os_auth_type: 'password',
      }),
    ).toThrow(
      'openstack: the plan has 2 problems with OpenStack keys:\n  os_auth_type: is password, but application credential keys are given; use v3applicationcredential\n  os_password: not used with application credentials',
    );
  });
});
