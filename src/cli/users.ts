import type { Command, ParsedArgs } from './command.ts';
import { requireOpt, stringOpt } from './command.ts';
import { databaseUrlFromEnv, parseStoreSpec, type ServerStore } from '../server/store/store.ts';
import { openStore } from '../server/store/open.ts';
import { UsersService } from '../server/users/service.ts';
import { systemClock } from '../shared/clock.ts';
import { randomSecret } from '../shared/ids.ts';

const storeOptions = {
  'data-dir': { type: 'string', description: 'the server data dir (its server.db)', default: './data' },
  db: {
    type: 'string',
    description: 'the server database instead: sqlite:PATH or postgres://… (also read from DATABASE_URL)',
  },
} as const;

/** Open the server's store (safe while the server runs), run `fn`, close. */
async function withUsers<T>(args: ParsedArgs, fn: (users: UsersService, store: ServerStore) => Promise<T>): Promise<T> {
  const store = await openStore(
    parseStoreSpec(stringOpt(args, 'db') ?? databaseUrlFromEnv(), stringOpt(args, 'data-dir')),
  );
  try {
    return await fn(new UsersService(store.users, systemClock), store);
  } finally {
    await store.close();
  }
}

/** The options of a command that sets a user's password: whose (`login`) and the password, or none to generate one. */
function passwordOptions(login: string, password: string): Command['options'] {
  return {
    ...storeOptions,
    login: { type: 'string', description: login },
    password: {
      type: 'string',
      description: `${password}, at least 8 characters (default: generated and printed)`,
      secret: 'chosen',
    },
  };
}

/** The login and the password given, or a new one; `shown` prints a generated one (a given one never). */
function loginAndPassword(args: ParsedArgs): { login: string; password: string; shown: string } {
  const login = requireOpt(args, 'login');
  const given = stringOpt(args, 'password');
  const password = given ?? randomSecret(12);
  return { login, password, shown: given === undefined ? `\npassword: ${password}` : '' };
}

export const add: Command = {
  name: 'users add',
  summary: 'Create a server user: the login and password for the 3rdparty API (Basic auth).',
  options: passwordOptions('the new login', 'its password'),
  async run(args) {
    const { login, password, shown } = loginAndPassword(args);
    const user = await withUsers(args, (users) => users.create(login, password));
    console.log(`created user ${user.login} (id ${user.id})${shown}`);
  },
};

export const list: Command = {
  name: 'users list',
  summary: 'List the server users and how many devices each has.',
  options: { ...storeOptions },
  async run(args) {
    const all = await withUsers(args, (users) => users.list());
    if (all.length === 0) {
      console.log('no users yet; create one with `smsgate users add --login <login>`');
      return;
    }
    for (const user of all) {
      console.log(
        `${user.login}\t${user.id}\tdevices: ${user.deviceCount}\tcreated: ${new Date(user.createdAt).toISOString()}`,
      );
    }
  },
};

export const passwd: Command = {
  name: 'users passwd',
  summary:
    "Change a server user's password (a running server accepts the new one at once, the old one for at most 30 s).",
  options: passwordOptions('whose password', 'the new password'),
  async run(args) {
    const { login, password, shown } = loginAndPassword(args);
    await withUsers(args, (users) => users.changePassword(login, password));
    console.log(`changed the password of ${login}${shown}`);
  },
};
