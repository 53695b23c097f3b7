/** `cloudboot report NAME [-o FILE]`: an HTML timeline of a run from its recorded transitions. */
import { chmodSync, writeFileSync } from 'node:fs';
import { CloudBoot, UsageError } from '@cloudboot/core';
import { userPath } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { renderReport } from '../report/report-html.js';
import { timelineOf } from '../report/report-timeline.js';
import { type Command, runNameArg } from './command.js';

/** The `report` command. Reads the run's database; changes nothing, takes no lock. */
export const reportCommand: Command = {
  name: 'report',
  usage: 'report NAME [-o FILE]',
  summary: 'write an HTML timeline of the run (Gantt chart per service and level, summary)',
  options: ['name', 'output'],
  async run(ctx) {
    const name = runNameArg(ctx, this.name);
    const file = ctx.options.output ?? userPath(`cloudboot-report-${name}.html`, ctx.io);
    const boot = new CloudBoot({ dbDir: ctx.options.dbDir, runName: name });
    let html: string;
    let services: number;
    try {
      const timeline = timelineOf(name, boot.services(), boot.transitions());
      services = timeline.services.length;
      html = renderReport(timeline, { generatedAt: Date.now(), plan: boot.plan.topFile });
    } finally {
      boot.close();
    }
    try {
      // The report names machines and failure messages: readable by the owner only.
      writeFileSync(file, html, { mode: 0o600 });
      chmodSync(file, 0o600);
    } catch (error) {
      throw new UsageError(`cannot write -o ${file}: ${(error as Error).message}`);
    }
    ctx.out.final(`report of run ${name} (${services} services): ${file}`);
    return {
      exitCode: EXIT.ok,
      details: { run: name, file, services, bytes: Buffer.byteLength(html) },
    };
  },
};
