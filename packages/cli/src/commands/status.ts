/** `cloudboot status NAME`: re-run every ready program and report each service's state. */
import { type Command, OPERATION_OPTIONS, runNameArg } from './command.js';
import { openRun, withRun } from './run-session.js';

/** The `status` command. Succeeds only when every service is ready. */
export const statusCommand: Command = {
  name: 'status',
  usage: 'status NAME',
  summary: 're-run every ready program and show the state of each service',
  options: OPERATION_OPTIONS,
  async run(ctx) {
    const boot = openRun(ctx, runNameArg(ctx, this.name));
    return withRun(ctx, boot, (s) =>
      s.operate(
        'status',
        () => {
          boot.checkStatus();
          return boot.wait();
        },
        { verdict: () => boot.store.services().every((r) => r.state === 'ready') },
      ),
    );
  },
};
