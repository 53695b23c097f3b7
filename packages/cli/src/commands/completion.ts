/**
 * `cloudboot completion bash|zsh|fish`: a shell completion script for the
 * commands, their options, and the run names of the database directory
 * (which the script asks `cloudboot completion runs` for when completing).
 */
import { listRunNames, UsageError } from '@cloudboot/core';
import { OPTION_SPECS, type OptionName } from '../args.js';
import { EXIT } from '../exit-codes.js';
import { COMMON_OPTIONS, type Command } from './command.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

/** What a command's positional arguments are. */
type Operand = 'runs' | 'files' | 'shells' | 'commands' | 'none';

interface CommandInfo {
  readonly name: string;
  readonly summary: string;
  readonly flags: readonly string[];
  readonly operand: Operand;
}

/** Options that take a value, and what the value is. */
const VALUE_KINDS: Partial<Record<OptionName, 'dirs' | 'files' | 'runs' | 'levels' | 'none'>> = {
  dbdir: 'dirs',
  logdir: 'dirs',
  output: 'files',
  'globals-file': 'files',
  name: 'runs',
  loglevel: 'levels',
  global: 'none',
  parallel: 'none',
};

function flagsOf(options: readonly OptionName[]): string[] {
  return options.flatMap((o) => {
    const spec = OPTION_SPECS[o];
    return 'short' in spec ? [`--${o}`, `-${spec.short}`] : [`--${o}`];
  });
}

function operandOf(command: Command): Operand {
  if (command.name === 'completion') return 'shells';
  const arg = command.usage.split(' ')[1] ?? '';
  if (arg.startsWith('NAME')) return 'runs';
  if (arg === 'PLAN') return 'files';
  return 'none';
}

function infoOf(commands: readonly Command[]): CommandInfo[] {
  return [
    ...commands.map((c) => ({
      name: c.name,
      summary: c.summary,
      flags: flagsOf([...c.options, ...COMMON_OPTIONS]),
      operand: operandOf(c),
    })),
    { name: 'help', summary: 'help for a command', flags: [], operand: 'commands' as const },
  ];
}

function valueFlags(kind: string): string {
  return (Object.entries(VALUE_KINDS) as [OptionName, string][])
    .filter(([, k]) => k === kind)
    .flatMap(([o]) => flagsOf([o]))
    .join('|');
}

/** Every option that takes a value (the next word is that value, not an operand). */
function allValueFlags(): string {
  return flagsOf(Object.keys(VALUE_KINDS) as OptionName[]).join('|');
}

function bash(commands: readonly CommandInfo[]): string {
  const names = commands.map((c) => c.name).join(' ');
  const byOperand = (o: Operand) =>
    commands
      .filter((c) => c.operand === o)
      .map((c) => c.name)
      .join('|');
  return `# bash completion for cloudboot. Load it with
#   source <(cloudboot completion bash)
# or save it as /etc/bash_completion.d/cloudboot.
_cloudboot_runs() {
  local i db=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      -d|--dbdir) db=(-d "\${COMP_WORDS[i+1]}") ;;
    esac
  done
  "\${COMP_WORDS[0]}" completion runs "\${db[@]}" 2>/dev/null
}

_cloudboot() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd='' i
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      ${allValueFlags()}) ((i++)) ;;
      -*) ;;
      *) [ -z "$cmd" ] && cmd=\${COMP_WORDS[i]} ;;
    esac
  done
  case $prev in
    ${valueFlags('dirs')}) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    ${valueFlags('files')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${valueFlags('levels')}) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return ;;
    ${valueFlags('runs')}) COMPREPLY=($(compgen -W "$(_cloudboot_runs)" -- "$cur")); return ;;
    ${valueFlags('none')}) return ;;
  esac
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "${names} --help --version" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    local flags=''
    case $cmd in
${commands.map((c) => `      ${c.name}) flags='${c.flags.join(' ')}' ;;`).join('\n')}
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case $cmd in
    ${byOperand('runs')}) COMPREPLY=($(compgen -W "$(_cloudboot_runs)" -- "$cur")) ;;
    ${byOperand('files')}) COMPREPLY=($(compgen -f -- "$cur")) ;;
    ${byOperand('shells')}) COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")) ;;
    ${byOperand('commands')}) COMPREPLY=($(compgen -W "${names}" -- "$cur")) ;;
  esac
}
complete -o filenames -F _cloudboot cloudboot
`;
}

const zshQuote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

function zsh(commands: readonly CommandInfo[]): string {
  const byOperand = (o: Operand) =>
    commands
      .filter((c) => c.operand === o)
      .map((c) => c.name)
      .join('|');
  return `#compdef cloudboot
# zsh completion for cloudboot. Load it with
#   source <(cloudboot completion zsh)
# or save it as _cloudboot in a directory of $fpath.
_cloudboot_runs() {
  local i db=()
  for ((i = 2; i < CURRENT; i++)); do
    [[ \${words[i]} == (-d|--dbdir) ]] && db=(-d "\${words[i+1]}")
  done
  compadd -- \${(f)"$(\${words[1]} completion runs $db 2>/dev/null)"}
}

_cloudboot() {
  local cmd='' i
  local -a commands
  commands=(
${commands.map((c) => `    ${zshQuote(`${c.name}:${c.summary}`)}`).join('\n')}
  )
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      ${allValueFlags()}) ((i++)) ;;
      -*) ;;
      *) [[ -z $cmd ]] && cmd=\${words[i]} ;;
    esac
  done
  case \${words[CURRENT-1]} in
    ${valueFlags('dirs')}) _files -/; return ;;
    ${valueFlags('files')}) _files; return ;;
    ${valueFlags('levels')}) compadd debug info warn error; return ;;
    ${valueFlags('runs')}) _cloudboot_runs; return ;;
    ${valueFlags('none')}) return ;;
  esac
  if [[ -z $cmd ]]; then
    _describe command commands
    return
  fi
  if [[ $PREFIX == -* ]]; then
    case $cmd in
${commands.map((c) => `      ${c.name}) compadd -- ${c.flags.join(' ')} ;;`).join('\n')}
    esac
    return
  fi
  case $cmd in
    ${byOperand('runs')}) _cloudboot_runs ;;
    ${byOperand('files')}) _files ;;
    ${byOperand('shells')}) compadd ${SHELLS.join(' ')} ;;
    ${byOperand('commands')}) _describe command commands ;;
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _cloudboot "$@"
else
  compdef _cloudboot cloudboot
fi
`;
}

const fishQuote = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

function fish(commands: readonly CommandInfo[]): string {
  const names = commands.map((c) => c.name).join(' ');
  const lines = [
    '# fish completion for cloudboot. Load it with',
    '#   cloudboot completion fish | source',
    '# or save it as ~/.config/fish/completions/cloudboot.fish.',
    'function __cloudboot_runs',
    '    set -l words (commandline -opc)',
    '    set -l db',
    '    for i in (seq (count $words))',
    '        if contains -- $words[$i] -d --dbdir',
    '            set db -d $words[(math $i + 1)]',
    '        end',
    '    end',
    '    $words[1] completion runs $db 2>/dev/null',
    'end',
    'complete -c cloudboot -f',
    `complete -c cloudboot -n '__fish_use_subcommand' -s V -l version -d 'print the versions'`,
  ];
  for (const c of commands) {
    lines.push(
      `complete -c cloudboot -n '__fish_use_subcommand' -a ${c.name} -d ${fishQuote(c.summary)}`,
    );
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const option of [...new Set(c.flags.filter((f) => f.startsWith('--')))]) {
      const name = option.slice(2) as OptionName;
      const spec = OPTION_SPECS[name];
      const short = 'short' in spec ? ` -s ${spec.short}` : '';
      const kind = VALUE_KINDS[name];
      const value =
        kind === 'dirs'
          ? " -r -a '(__fish_complete_directories)'"
          : kind === 'files'
            ? ' -r -F'
            : kind === 'runs'
              ? " -r -a '(__cloudboot_runs)'"
              : kind === 'levels'
                ? " -r -a 'debug info warn error'"
                : kind === 'none'
                  ? ' -r'
                  : '';
      lines.push(`complete -c cloudboot ${when}${short} -l ${name}${value}`);
    }
    if (c.operand === 'runs') lines.push(`complete -c cloudboot ${when} -a '(__cloudboot_runs)'`);
    if (c.operand === 'files') lines.push(`complete -c cloudboot ${when} -F`);
    if (c.operand === 'shells')
      lines.push(`complete -c cloudboot ${when} -a '${SHELLS.join(' ')}'`);
    if (c.operand === 'commands') lines.push(`complete -c cloudboot ${when} -a '${names}'`);
  }
  return `${lines.join('\n')}\n`;
}

const SCRIPTS: Readonly<Record<Shell, (commands: readonly CommandInfo[]) => string>> = {
  bash,
  zsh,
  fish,
};

/** The `completion` command; `all` is the command table the scripts complete. */
export function completionCommand(all: () => readonly Command[]): Command {
  return {
    name: 'completion',
    usage: 'completion bash|zsh|fish',
    summary: 'print a shell completion script (commands, options, run names)',
    options: [],
    async run(ctx) {
      const [shell, ...rest] = ctx.args;
      if (rest.length > 0)
        throw new UsageError(`completion takes one shell, got: ${ctx.args.join(' ')}`);
      // What the scripts call while completing: the run names, one a line.
      if (shell === 'runs') {
        for (const name of listRunNames(ctx.options.dbDir)) ctx.io.stdout.write(`${name}\n`);
        return { exitCode: EXIT.ok };
      }
      if (!(SHELLS as readonly string[]).includes(shell ?? '')) {
        throw new UsageError(
          `completion needs a shell: cloudboot completion ${SHELLS.join('|')}${shell === undefined ? '' : ` (got "${shell}")`}`,
        );
      }
      ctx.io.stdout.write(SCRIPTS[shell as Shell](infoOf(all())));
      return { exitCode: EXIT.ok };
    },
  };
}
