/**
 * Checks before an operation launches anything: every driver the plan names
 * can be loaded and has the right shape. A plan whose level-3 driver is
 * missing must fail before level 1 launches a VM.
 */
import { dirname } from 'node:path';
import type { DriverRegistry } from '../driver/registry.js';
import type { Attributes } from '../engine/attributes.js';
import type { Plan } from '../plan/model.js';
import { parseBoolean } from '../plan/values.js';
import { hasReferences } from '../template/references.js';

/** Loads every driver module the plan needs. @throws DriverLoadError */
export async function preflight(
  plan: Plan,
  attrs: Attributes,
  drivers: DriverRegistry,
): Promise<void> {
  const wanted = new Map<string, { name: string; base: string }>();
  for (const level of plan.levels) {
    for (const service of level.services) {
      const raw = service.keys.driver;
      if (raw !== undefined && hasReferences(raw.value)) continue;
      const launchRaw = service.keys.iaas_launch?.value;
      const launch =
        (launchRaw === undefined ? undefined : parseBoolean(launchRaw)) ??
        service.keys.hostname === undefined;
      const name = launch ? (attrs.key(service.name, 'driver') ?? 'ec2') : 'static-ip';
      const base = dirname(raw?.source.file ?? service.source.file);
      wanted.set(`${name}\0${base}`, { name, base });
    }
  }
  await Promise.all([...wanted.values()].map(({ name, base }) => drivers.factory(name, base)));
}
