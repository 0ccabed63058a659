import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
  short?: string;
  /** may be given several times (collected into an array of strings) */
  multiple?: boolean;
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
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export class UsageError extends Error {}

/** SMSGATE_DATA_DIR for --data-dir: every option can also come from the environment. */
export const envNameFor = (option: string): string => 'SMSGATE_' + option.replace(/-/g, '_').toUpperCase();

/** Parse argv for a command: flags win over SMSGATE_* environment variables, which win over defaults. */
export function parseCommandArgs(command: Command, argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(command.options).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
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
  const values: ParsedArgs['values'] = { ...parsed.values };
  for (const [name, spec] of Object.entries(command.options)) {
    if (values[name] !== undefined) continue;
    const fromEnv = env[envNameFor(name)];
    if (fromEnv !== undefined && fromEnv !== '') {
      values[name] = spec.type === 'boolean' ? !['0', 'false', 'no', 'off'].includes(fromEnv.toLowerCase()) : fromEnv;
    } else if (spec.default !== undefined) {
      values[name] = spec.default;
    }
  }
  return { values, positionals: parsed.positionals };
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
    lines.push(`  ${flag.padEnd(28)} ${spec.description}${extra}  [env ${envNameFor(name)}]`);
  }
  lines.push(`  ${'--help, -h'.padEnd(28)} show this help`);
  return lines.join('\n');
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
  if (value === undefined) throw new UsageError(`--${name} is required (or set ${envNameFor(name)})`);
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
