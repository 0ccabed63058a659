import {
  environmentTable,
  envNameFor,
  helpText,
  legacyEnvNameFor,
  parseCommandArgs,
  usageText,
  UsageError,
  type Command,
} from './command.ts';
import { VERSION } from '../shared/version.ts';

/** Every command, loaded only when used so `smsgate --help` stays fast. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  up: { summary: 'a server plus one linked virtual device, on embedded defaults', load: () => import('./up.ts') },
  device: { summary: 'run a virtual device (Local API, webhook delivery)', load: () => import('./device.ts') },
  server: { summary: 'run the Private/Cloud server (3rdparty and mobile APIs)', load: () => import('./server.ts') },
  send: { summary: 'send an SMS through a device', load: () => import('./send.ts') },
  'sim receive': {
    summary: 'make the virtual carrier deliver an incoming SMS to a device',
    load: () => import('./sim-receive.ts'),
  },
  'sim network': { summary: 'switch the virtual device online or offline', load: () => import('./sim-network.ts') },
  'webhooks add': {
    summary: 'register a webhook on a device or server',
    load: () => import('./webhooks.ts').then((m) => ({ default: m.add })),
  },
  'webhooks list': {
    summary: 'list webhooks of a device or server',
    load: () => import('./webhooks.ts').then((m) => ({ default: m.list })),
  },
  'webhooks rm': {
    summary: 'remove a webhook from a device or server',
    load: () => import('./webhooks.ts').then((m) => ({ default: m.rm })),
  },
  'users add': {
    summary: 'create a server user for the 3rdparty API',
    load: () => import('./users.ts').then((m) => ({ default: m.add })),
  },
  'users list': { summary: 'list server users', load: () => import('./users.ts').then((m) => ({ default: m.list })) },
  'users passwd': {
    summary: "change a server user's password",
    load: () => import('./users.ts').then((m) => ({ default: m.passwd })),
  },
  listen: {
    summary: 'a local webhook endpoint that prints and verifies what arrives',
    load: () => import('./listen.ts'),
  },
  'ca init': {
    summary: 'create a private certificate authority in the data dir',
    load: () => import('./ca.ts').then((m) => ({ default: m.init })),
  },
  'ca issue': {
    summary: 'issue a server certificate for IP addresses or host names',
    load: () => import('./ca.ts').then((m) => ({ default: m.issue })),
  },
};

/** Every command, loaded: for `smsgate help env` and to tell which older variable names are ambiguous. */
const allCommands = (): Promise<Command[]> =>
  Promise.all(Object.values(COMMANDS).map(async (entry) => (await entry.load()).default));

/** Whether an older SMSGATE_<OPTION> would be read for this command (its own variable is not set). */
const readsLegacyEnv = (command: Command, env: NodeJS.ProcessEnv): boolean =>
  Object.keys(command.options).some(
    (option) => !env[envNameFor(command.name, option)] && env[legacyEnvNameFor(option)],
  );

function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'Usage: smsgate <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Run `smsgate <command> --help` for its options. Every option can also be set in the environment,',
    'as SMSGATE_<COMMAND>_<OPTION> (`smsgate help env` lists them all).',
    '`smsgate --version` prints the version.',
  ].join('\n');
}

/** `smsgate sim`, `smsgate webhooks`, …: the sub-commands of a group. */
function groupText(group: string, names: string[]): string {
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    `Usage: smsgate ${group} <${names.map((n) => n.slice(group.length + 1)).join('|')}> [options]`,
    '',
    ...names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n].summary}`),
    '',
    `Run \`smsgate ${group} <command> --help\` for its options.`,
  ].join('\n');
}

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';

async function main(argv: string[]): Promise<number> {
  // `smsgate help device` is `smsgate device --help`.
  if (argv[0] === 'help' && argv[1] === 'env') {
    console.log(environmentTable(await allCommands()));
    return 0;
  }
  if (argv[0] === 'help' && argv.length > 1) argv = [...argv.slice(1), '--help'];
  const [first, second] = argv;
  if (!first) {
    console.error(overview());
    return 2;
  }
  if (isHelp(first) || first === 'help') {
    console.log(overview());
    return 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    console.log(VERSION);
    return 0;
  }
  const twoWord = second && COMMANDS[`${first} ${second}`] ? `${first} ${second}` : undefined;
  const name = twoWord ?? first;
  const entry = COMMANDS[name];
  if (!entry) {
    const group = Object.keys(COMMANDS).filter((n) => n.startsWith(first + ' '));
    if (group.length && (isHelp(second) || second === undefined)) {
      (second ? console.log : console.error)(groupText(first, group));
      return second ? 0 : 2;
    }
    console.error(
      group.length
        ? `smsgate ${first}: unknown command "${second}"; choose one of: ${group.join(', ')}`
        : `smsgate: unknown command "${first}"\n\n${overview()}`,
    );
    return 2;
  }
  const command = (await entry.load()).default;
  const rest = argv.slice(twoWord ? 2 : 1);
  try {
    const args = parseCommandArgs(command, rest, process.env, {
      commands: readsLegacyEnv(command, process.env) ? await allCommands() : [],
      warn: (line) => console.error(line),
    });
    if (args.values.help) {
      console.log(helpText(command));
      return 0;
    }
    await command.run(args);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      // One line that says what is wrong, then how the command is used, as CLIs do.
      console.error(`smsgate ${name}: ${error.message}\n${usageText(command)}`);
      return 2;
    }
    console.error(`smsgate ${name}: ${(error as Error).message}`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Long-running commands keep the event loop alive themselves; one-shot commands end here.
if (code !== 0) process.exit(code);
