/** The command table of the `cloudboot` binary. */
import { bootCommand } from './boot.js';
import { cleanCommand } from './clean.js';
import type { Command } from './command.js';
import { commandsCommand } from './commands.js';
import { completionCommand } from './completion.js';
import { historyCommand } from './history.js';
import { listCommand } from './list.js';
import { rebootCommand } from './reboot.js';
import { reloadCommand } from './reload.js';
import { repairCommand } from './repair.js';
import { reportCommand } from './report.js';
import { resumeCommand } from './resume.js';
import { statusCommand } from './status.js';
import { terminateCommand } from './terminate.js';

/** Every command, in the order help lists them. */
export const COMMANDS: readonly Command[] = [
  bootCommand,
  statusCommand,
  terminateCommand,
  rebootCommand,
  repairCommand,
  reloadCommand,
  resumeCommand,
  listCommand,
  historyCommand,
  cleanCommand,
  reportCommand,
  commandsCommand(() => COMMANDS),
  completionCommand(() => COMMANDS),
];

/** The command named `name`, if there is one. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
