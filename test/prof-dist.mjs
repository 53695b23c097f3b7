import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudBoot } from '@cloudboot/core';
import { createDriver } from '@cloudboot/driver-static-ip';
const withPrograms = process.argv[2] === 'p';
const root = mkdtempSync(join(tmpdir(), 'cb-prof-'));
writeFileSync(join(root, 'p.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
const levels = [];
for (let l = 1; l <= 10; l++) {
  levels.push(`level${l}: l${l}.conf`);
  writeFileSync(join(root, `l${l}.conf`), `[svc-l${l}]\nreplica_count: 100\n`);
}
writeFileSync(
  join(root, 'top.conf'),
  `[defaults]\nlocal_exe: true\nhostname: 127.0.0.1\nworkdir: ${root}/w\n${withPrograms ? 'bootpgm: p.sh\nreadypgm: p.sh\n' : ''}[runlevels]\n${levels.join('\n')}\n`,
);
const boot = new CloudBoot({
  dbDir: join(root, 'db'),
  planFile: join(root, 'top.conf'),
  runName: 'p',
  drivers: { 'static-ip': createDriver },
});
let max = 0;
const iv = setInterval(() => {
  max = Math.max(max, process.memoryUsage().rss);
}, 20);
const cpu0 = process.cpuUsage();
const t = performance.now();
const r = await boot.run();
const cpu = process.cpuUsage(cpu0);
clearInterval(iv);
console.log({
  withPrograms,
  ok: r.ok,
  wall: Math.round(performance.now() - t),
  userMs: Math.round(cpu.user / 1000),
  sysMs: Math.round(cpu.system / 1000),
  rssMB: Math.round(max / 2 ** 20),
});
boot.close();
rmSync(root, { recursive: true, force: true });
