/** `cloudboot history NAME`: every instance ever launched for a run. */
import { RunStore } from '@cloudboot/core';
import { EXIT } from '../exit-codes.js';
import { formatTable, formatTime } from '../table.js';
import { type Command, runNameArg } from './command.js';

/**
 * The `history` command. An instance is "current" when it is the instance of
 * a service that is not terminated. (`--kill` and cloud states are not
 * supported yet.)
 */
export const historyCommand: Command = {
  name: 'history',
  usage: 'history NAME',
  summary: 'list every instance ever launched for the run, and which are current',
  options: ['name'],
  async run(ctx) {
    const { out, options } = ctx;
    const store = RunStore.open(options.dbDir, runNameArg(ctx, this.name));
    try {
      const current = new Set(
        store
          .services()
          .filter((s) => s.state !== 'terminated' && s.launchToken !== null)
          .map((s) => s.launchToken),
      );
      const instances = store.instances().map((i) => ({ ...i, current: current.has(i.token) }));
      for (const instance of instances)
        out.jsonLine({ type: 'instance', run: store.runName, ...instance });
      out.info(
        `run ${store.runName}: ${instances.length} instance${instances.length === 1 ? '' : 's'}, ` +
          `${instances.filter((i) => i.current).length} current`,
      );
      const rows = instances.map((i) => [
        i.token,
        i.service,
        i.driver,
        i.instanceId ?? '(launch unanswered)',
        formatTime(i.launchedAt),
        formatTime(i.terminatedAt),
        i.current ? 'yes' : '-',
      ]);
      const header = [
        'TOKEN',
        'SERVICE',
        'DRIVER',
        'INSTANCE',
        'LAUNCHED',
        'TERMINATED',
        'CURRENT',
      ];
      if (instances.length > 0) for (const line of formatTable([header, ...rows])) out.final(line);
      return { exitCode: EXIT.ok, details: { run: store.runName, instances: instances.length } };
    } finally {
      store.close();
    }
  },
};
