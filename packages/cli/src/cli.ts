/**
 * `runCli`: parses the command line, runs the command, prints errors, and
 * returns the exit status. Never calls `process.exit`, so tests and other
 * programs can run it in-process.
 */
import { UsageError } from '@cloudboot/core';
import { type OptionName, optionLabel, parseCommandLine } from './args.js';
import { COMMON_OPTIONS, type Command } from './commands/command.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { EXIT } from './exit-codes.js';
import { commandHelp, mainHelp } from './help.js';
import { type CliIo, Output } from './io.js';
import { errorJson, reportError } from './report-error.js';
import { versions } from './versions.js';

function checkOptions(command: Command, given: ReadonlySet<OptionName>): void {
  const accepted = new Set([...command.options, ...COMMON_OPTIONS]);
  const extra = [...given].filter((o) => !accepted.has(o));
  if (extra.length > 0) {
    throw new UsageError(
      `${extra.map(optionLabel).join(', ')} cannot be used with "${command.name}" (see "cloudboot ${command.name} --help")`,
    );
  }
}

function commandOf(name: string): Command {
  const command = findCommand(name);
  if (command === undefined) {
    throw new UsageError(`unknown command "${name}"; "cloudboot commands" lists them`);
  }
  return command;
}

/**
 * Runs the `cloudboot` command line `argv` (without node and the script)
 * and resolves with the exit status.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  let verbose = false;
  let name: string | undefined;
  try {
    const parsed = parseCommandLine(argv, io);
    const { options } = parsed;
    json = options.json;
    verbose = options.verbosity === 'debug';
    name = parsed.command;
    if (options.version) {
      const { cli, core } = versions();
      io.stdout.write(`cloudboot ${cli}\n@cloudboot/core ${core}\n`);
      return EXIT.ok;
    }
    if (name === undefined || name === 'help') {
      const topic = parsed.args[0];
      if (name === 'help' && topic !== undefined) {
        io.stdout.write(commandHelp(commandOf(topic)));
        return EXIT.ok;
      }
      if (name === undefined && !options.help) {
        io.stderr.write(mainHelp(COMMANDS));
        throw new UsageError('no command given');
      }
      io.stdout.write(mainHelp(COMMANDS));
      return EXIT.ok;
    }
    const command = commandOf(name);
    if (options.help) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    checkOptions(command, parsed.given);
    const out = new Output(io, { verbosity: options.verbosity, json });
    const outcome = await command.run({ io, out, options, args: parsed.args });
    out.jsonLine({
      type: 'result',
      command: name,
      ok: outcome.exitCode === EXIT.ok,
      exitCode: outcome.exitCode,
      ...outcome.details,
    });
    return outcome.exitCode;
  } catch (error) {
    const exitCode = reportError(io, error, verbose);
    if (json) {
      const line = {
        type: 'result',
        command: name ?? null,
        ok: false,
        exitCode,
        error: errorJson(error),
      };
      io.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return exitCode;
  }
}
