/** `cloudboot commands`: every command with one line of help. */
import { EXIT } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { type Command, noArgs } from './command.js';

/** The `commands` command; `all` is the command table it lists. */
export function commandsCommand(all: () => readonly Command[]): Command {
  return {
    name: 'commands',
    usage: 'commands',
    summary: 'list the commands with one line of help each',
    options: [],
    async run(ctx) {
      noArgs(ctx, this.name);
      for (const c of all())
        ctx.out.jsonLine({ type: 'command', name: c.name, usage: c.usage, summary: c.summary });
      for (const line of formatTable(all().map((c) => [c.usage, c.summary]))) ctx.out.final(line);
      return { exitCode: EXIT.ok };
    },
  };
}
