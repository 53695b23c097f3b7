/** Help texts: the whole CLI (`--help`) and one command (`COMMAND --help`). */
import { DEFAULT_WATCH_SECONDS, type OptionName, optionLabel } from './args.js';
import { COMMON_OPTIONS, type Command } from './commands/command.js';
import { EXIT_HELP } from './exit-codes.js';
import { formatTable } from './table.js';

const OPTION_HELP: Readonly<Record<OptionName, readonly [string, string]>> = {
  name: ['NAME', 'run name (boot: default is the plan file name and a random suffix)'],
  dbdir: ['DIR', 'directory of run databases (default $CLOUDBOOT_DBDIR, else ~/.cloudboot)'],
  logdir: ['DIR', 'directory of per-service logs, kept in DIR/<run>/ (default DBDIR/logs)'],
  loglevel: ['LEVEL', 'progress output: debug (every transition), info (default), warn, error'],
  verbose: ['', 'same as -l debug; also stack traces of internal errors'],
  quiet: ['', 'same as -l error: only failures and the final line'],
  validate: ['', 'check the plan and load its drivers; create and launch nothing'],
  dryrun: ['', 'print what would run, level by level; create and launch nothing'],
  output: [
    'FILE',
    'after the command, write a JSON description of the run (secrets redacted); report: the HTML file',
  ],
  global: ['KEY=VALUE', 'set a global, ${global.KEY} (repeatable; wins over -G and [globals])'],
  'globals-file': ['FILE', 'INI file with a [globals] section (repeatable)'],
  json: ['', 'JSON lines on stdout: one per event, then {"type":"result",...}'],
  parallel: ['N', 'services started at once within a level (default 128)'],
  'dash-nine': ['', 'skip terminate programs and working-dir removal; just kill launched VMs'],
  kill: ['', 'history: terminate every instance of the run still alive in its cloud'],
  watch: [
    '[SECONDS]',
    `status: check again every SECONDS (default ${DEFAULT_WATCH_SECONDS}) until Ctrl-C`,
  ],
  version: ['', 'print the versions of cloudboot and @cloudboot/core'],
  help: ['', 'show help ("cloudboot COMMAND --help" for one command)'],
};

function optionLines(names: readonly OptionName[]): string[] {
  return formatTable(
    names.map((n) => {
      const [value, text] = OPTION_HELP[n];
      return [`  ${optionLabel(n).replace('/', ', ')}${value === '' ? '' : ` ${value}`}`, text];
    }),
  );
}

/** Help for the whole CLI. */
export function mainHelp(commands: readonly Command[]): string {
  const options = Object.keys(OPTION_HELP) as OptionName[];
  return [
    'usage: cloudboot COMMAND [ARGS] [OPTIONS]',
    '',
    'Boots a multi-machine application level by level, checks that every service',
    'is ready, records everything in a run database, and tears it down again.',
    '',
    'commands:',
    ...formatTable(commands.map((c) => [`  ${c.usage}`, c.summary])),
    '',
    'options (each command accepts the ones that apply to it):',
    ...optionLines(options),
    '',
    'exit status:',
    ...EXIT_HELP.map((l) => `  ${l}`),
    '',
  ].join('\n');
}

/** Help for one command. */
export function commandHelp(command: Command): string {
  return [
    `usage: cloudboot ${command.usage}`,
    '',
    `${command.summary}.`,
    '',
    'options:',
    ...optionLines([...command.options, ...COMMON_OPTIONS]),
    '',
    'exit status:',
    ...EXIT_HELP.map((l) => `  ${l}`),
    '',
  ].join('\n');
}
