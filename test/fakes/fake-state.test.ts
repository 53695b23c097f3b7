/**
 * `GET /_fake/state` of the fake GCE and OpenStack: calls by method and
 * throttled answers, as the fake EC2 reports them (the cloud benchmark reads
 * them from fakes running in processes of their own).
 */
import { describe, expect, it } from 'vitest';
import { startGceCloud } from './gce-cloud.js';
import { startOpenstackCloud } from './openstack-cloud.js';

interface State {
  readonly calls: Record<string, number>;
  readonly faults: Record<string, number>;
}

const state = async (origin: string): Promise<State> =>
  (await (await fetch(new URL('/_fake/state', origin))).json()) as State;

describe('fake cloud state', () => {
  it('GCE: calls by method (throttled ones included) and throttled answers', async () => {
    const fake = await startGceCloud();
    try {
      fake.faults.throttleEvery = 2;
      const list = `${fake.url}/compute/v1/projects/p/zones/us-central1-a/instances`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await fetch(list, { headers: { Authorization: 'Bearer t' } })).status);
      expect(statuses).toEqual([200, 403, 200]);
      const s = await state(fake.url);
      expect(s.calls).toEqual({ 'instances.list': 3 });
      expect(s.faults.throttled).toBe(1);
    } finally {
      await fake.close();
    }
  });

  it('OpenStack: answered calls by method, lookups of one name apart, throttled answers', async () => {
    const fake = await startOpenstackCloud();
    try {
      const auth = await fetch(`${fake.url}/auth/tokens`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: {
              methods: ['password'],
              password: {
                user: { name: 'demo', password: 'secret', domain: { name: 'Default' } },
              },
            },
            scope: { project: { name: 'demo', domain: { name: 'Default' } } },
          },
        }),
      });
      const token = auth.headers.get('x-subject-token') ?? '';
      fake.faults.throttleEvery = 3;
      const servers = `${fake.root}/RegionOne/public/compute/v2.1/servers/detail`;
      const statuses: number[] = [];
      for (const query of ['?name=%5Ecb-x%24', '?name=%5Ecb-', '']) {
        const answer = await fetch(`${servers}${query}`, { headers: { 'X-Auth-Token': token } });
        statuses.push(answer.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
      const s = await state(fake.root);
      expect(s.calls).toEqual({
        'keystone POST /auth/tokens': 1,
        'nova GET /servers/detail': 2,
        'nova GET /servers/detail (one name)': 1,
      });
      expect(s.faults.throttled).toBe(1);
    } finally {
      await fake.close();
    }
  });
});
