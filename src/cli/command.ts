import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
  short?: string;
  /** may be given several times (collected into an array of strings) */
  multiple?: boolean;
  /**
   * A password or token: it may also come from a file (`--<name>-file`, whose first line is the
   * secret) so that it stays out of `ps`, it is never printed back, and a blank one is refused.
   * `chosen`: one the user makes up (a new password); `known`: one the user was given.
   */
  secret?: 'chosen' | 'known';
}

export interface Command {
  /** e.g. "device" or "webhooks add" */
  name: string;
  summary: string;
  /** what follows the options, e.g. "<text>" */
  positionals?: string;
  options: Record<string, OptionSpec>;
  run(args: ParsedArgs): Promise<void>;
}

export interface ParsedArgs {
  /** the command's name, e.g. "webhooks add" */
  command?: string;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export class UsageError extends Error {}

const upperSnake = (words: string): string => words.replace(/[- ]/g, '_').toUpperCase();

/**
 * The environment variable of an option: SMSGATE_<COMMAND>_<OPTION>, the command being the first
 * word of its name (`device --password` → SMSGATE_DEVICE_PASSWORD, `webhooks add --url` →
 * SMSGATE_WEBHOOKS_URL), so no two commands read one variable unless they mean the same thing by it.
 */
export const envNameFor = (command: string, option: string): string =>
  `SMSGATE_${upperSnake(command.split(' ')[0])}_${upperSnake(option)}`;

/** The older SMSGATE_<OPTION>, read when the command's own variable is not set. */
export const legacyEnvNameFor = (option: string): string => `SMSGATE_${upperSnake(option)}`;

/** What the user is told to do instead of giving a blank secret. */
const SECRET_ADVICE: Record<NonNullable<OptionSpec['secret']>, string> = {
  chosen:
    'give a long random one (e.g. the output of `openssl rand -base64 24`), or leave it out to have one generated',
  known: 'give the one you were given',
};

export interface ParseContext {
  /**
   * Every command: an older SMSGATE_<OPTION> that another command reads too, or that is now the
   * variable of another command's option, is still read but warned about.
   */
  commands?: readonly Command[];
  warn?: (line: string) => void;
}

/**
 * Parse argv for a command. Each option comes from, first to last: its flag, its `--<name>-file`
 * (secrets), SMSGATE_<COMMAND>_<OPTION>, SMSGATE_<COMMAND>_<OPTION>_FILE (secrets), the older
 * SMSGATE_<OPTION>, its default.
 */
export function parseCommandArgs(
  command: Command,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  context: ParseContext = {},
): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
    if (spec.secret) options[`${name}-file`] = { type: 'string' };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.positionals !== undefined,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(usageMessage(command, error as Error & { code?: string }, argv));
  }
  const values: ParsedArgs['values'] = {};
  const given = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const set = (value: string | undefined) => value !== undefined && value !== '';
  for (const [name, spec] of Object.entries(command.options)) {
    const own = envNameFor(command.name, name);
    const legacy = legacyEnvNameFor(name);
    let value = given[name];
    let from = `--${name}`;
    if (spec.secret) {
      const file = given[`${name}-file`] as string | undefined;
      if (value !== undefined && file !== undefined) throw new UsageError(`give --${name} or --${name}-file, not both`);
      if (value === undefined && file !== undefined)
        [value, from] = [secretFromFile(file, `--${name}-file`), `--${name}-file`];
    }
    if (value === undefined && set(env[own])) [value, from] = [env[own], own];
    if (value === undefined && spec.secret && set(env[`${own}_FILE`]))
      [value, from] = [secretFromFile(env[`${own}_FILE`]!, `${own}_FILE`), `${own}_FILE`];
    if (value === undefined && set(env[legacy])) {
      [value, from] = [env[legacy], legacy];
      const others = readersOf(legacy, command, context.commands ?? []);
      if (others.length > 0) {
        context.warn?.(
          `smsgate ${command.name}: ${legacy} is read as --${name}, but it is ambiguous (${others.join(', ')} read it too); set ${own} instead`,
        );
      }
    }
    if (typeof value === 'string' && from !== `--${name}` && spec.type === 'boolean') {
      value = !['0', 'false', 'no', 'off'].includes(value.toLowerCase());
    }
    if (value === undefined) value = spec.default;
    if (spec.secret && typeof value === 'string' && value.trim() === '') {
      throw new UsageError(
        `--${name} is empty${from === `--${name}` ? '' : ` (from ${from})`}; ${SECRET_ADVICE[spec.secret]}`,
      );
    }
    if (value !== undefined) values[name] = value;
  }
  if (given.help) values.help = true;
  return { command: command.name, values, positionals: parsed.positionals };
}

/** The first line of a file holding a secret (a trailing newline is not part of it). */
function secretFromFile(path: string, from: string): string {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/)[0];
  } catch (error) {
    throw new UsageError(
      `${from}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** The other commands that read `variable`: as their older name for the same option, or as their own. */
function readersOf(variable: string, command: Command, commands: readonly Command[]): string[] {
  const readers = new Set<string>();
  const group = (name: string) => name.split(' ')[0];
  for (const other of commands) {
    if (group(other.name) === group(command.name)) continue;
    for (const option of Object.keys(other.options)) {
      if (legacyEnvNameFor(option) === variable || envNameFor(other.name, option) === variable) {
        readers.add(`smsgate ${other.name}`);
      }
    }
  }
  return [...readers];
}

/** Every option's variables, by command: the table of `smsgate help env`. */
export function environmentTable(commands: readonly Command[]): string {
  const rows = ['| command | environment variables (older names: SMSGATE_<OPTION>, read last) |', '|---|---|'];
  const byGroup = new Map<string, Set<string>>();
  for (const command of commands) {
    const group = command.name.split(' ')[0];
    const names = byGroup.get(group) ?? new Set<string>();
    for (const [name, spec] of Object.entries(command.options)) {
      names.add(`\`${envNameFor(command.name, name)}\``);
      if (spec.secret) names.add(`\`${envNameFor(command.name, name)}_FILE\``);
    }
    byGroup.set(group, names);
  }
  for (const [group, names] of byGroup) {
    const commandsOfGroup = commands.filter((c) => c.name.split(' ')[0] === group).map((c) => `\`${c.name}\``);
    rows.push(`| ${commandsOfGroup.join(', ')} | ${[...names].join(', ')} |`);
  }
  return rows.join('\n');
}

/** node:util parseArgs's complaint, shortened to one line that fits this command. */
function usageMessage(command: Command, error: Error & { code?: string }, argv: string[]): string {
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    // parseArgs names the option in its message; the argument itself may carry "=value".
    const option = /'([^']+)'/.exec(error.message)?.[1] ?? '?';
    const closest = closestOption(command, option.replace(/^-+/, '').split('=')[0]);
    return `unknown option '${option}'${closest ? `; did you mean --${closest}?` : ''}`;
  }
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const extra = argv.find((arg) => !arg.startsWith('-') && error.message.includes(`'${arg}'`)) ?? '?';
    return `unexpected argument '${extra}': this command takes options only`;
  }
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

/** The option a typo most likely meant: at most two edits away. */
function closestOption(command: Command, typed: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of [...Object.keys(command.options), 'help']) {
    const distance = editDistance(typed, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

const usageLine = (command: Command): string =>
  `Usage: smsgate ${command.name} [options]${command.positionals ? ' ' + command.positionals : ''}`;

/** What follows a usage error: the usage line and where the options are listed. */
export function usageText(command: Command): string {
  return `${usageLine(command)}\nRun \`smsgate ${command.name} --help\` for its options.`;
}

export function helpText(command: Command): string {
  const lines = [usageLine(command), '', command.summary, '', 'Options:'];
  for (const [name, spec] of Object.entries(command.options)) {
    const flag = `--${name}${spec.type === 'string' ? ' <value>' : ''}`;
    const extra = spec.default !== undefined ? ` (default: ${spec.default})` : '';
    lines.push(`  ${flag.padEnd(28)} ${spec.description}${extra}  [env ${envNameFor(command.name, name)}]`);
    if (spec.secret) {
      lines.push(
        `  ${`--${name}-file <path>`.padEnd(28)} read --${name} from the first line of this file (kept out of \`ps\`)  [env ${envNameFor(command.name, name)}_FILE]`,
      );
    }
  }
  lines.push(`  ${'--help, -h'.padEnd(28)} show this help`);
  return lines.join('\n');
}

/** `--port` and `--host` of a command that serves: `port` says whose port it is and `defaultPort` is its default. */
export function listenOptions(port: string, defaultPort: string): Record<'port' | 'host', OptionSpec> {
  return {
    port: { type: 'string', description: port, default: defaultPort },
    host: { type: 'string', description: 'address to listen on', default: '127.0.0.1' },
  };
}

export const stringOpt = (args: ParsedArgs, name: string): string | undefined => {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
};

/** A comma-separated option as a list (empty entries dropped), or undefined when not given. */
export function listOpt(args: ParsedArgs, name: string): string[] | undefined {
  const value = stringOpt(args, name);
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

export function requireOpt(args: ParsedArgs, name: string): string {
  const value = stringOpt(args, name);
  if (value === undefined)
    throw new UsageError(
      `--${name} is required (or set ${args.command ? envNameFor(args.command, name) : legacyEnvNameFor(name)})`,
    );
  return value;
}

export function intOpt(args: ParsedArgs, name: string): number | undefined {
  const value = stringOpt(args, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

/** Print the one line scripts wait for: `ready {...}`. */
export function printReady(info: Record<string, unknown>): void {
  process.stdout.write(`ready ${JSON.stringify(info)}\n`);
}

/**
 * Stop cleanly on SIGTERM or SIGINT: say what happens (on stdout, unless `says` is left out, as
 * where stdout is JSON), run `stop`, exit 0. A stop that hangs (a
 * peer that never lets go of a connection) must not keep the process alive for ever: after
 * `deadlineMs`, or at a second signal, it exits 1 at once. Nothing committed is lost by that;
 * deliveries in flight are sent again after the next start.
 */
export function stopOnSignals(stop: () => Promise<void>, says?: string, deadlineMs = 20_000): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    if (says !== undefined) console.log(`${signal}: ${says}`);
    setTimeout(() => {
      console.error(`still stopping after ${deadlineMs / 1000} s: exiting now`);
      process.exit(1);
    }, deadlineMs).unref();
    void stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`stopping failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
