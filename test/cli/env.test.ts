import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envNameFor, parseCommandArgs, type Command } from '../../src/cli/command.ts';
import { runSmsgate, tempDir } from '../server/helpers.ts';
import { startSmsgate } from '../helpers/process.ts';
import { LocalApi } from '../helpers/device.ts';

const COMMANDS = [
  'up',
  'device',
  'server',
  'send',
  'sim-receive',
  'sim-network',
  'listen',
  'webhooks',
  'users',
  'ca',
] as const;

async function allCommands(): Promise<Command[]> {
  const commands: Command[] = [];
  for (const file of COMMANDS) {
    const module = (await import(`../../src/cli/${file}.ts`)) as Record<string, Command>;
    for (const value of Object.values(module))
      if (value && typeof value === 'object' && 'options' in value) commands.push(value);
  }
  return [...new Map(commands.map((c) => [c.name, c])).values()];
}

test('every option has its own variable: no two commands of different groups read the same one', async () => {
  const commands = await allCommands();
  assert.ok(commands.length >= 15, `${commands.length} commands`);
  const readers = new Map<string, Set<string>>();
  for (const command of commands) {
    for (const option of Object.keys(command.options)) {
      const name = envNameFor(command.name, option);
      readers.set(name, (readers.get(name) ?? new Set()).add(command.name.split(' ')[0]));
    }
  }
  for (const [name, groups] of readers) assert.equal(groups.size, 1, `${name} is read by ${[...groups].join(', ')}`);
  assert.equal(envNameFor('device', 'password'), 'SMSGATE_DEVICE_PASSWORD');
  assert.equal(envNameFor('server', 'port'), 'SMSGATE_SERVER_PORT');
  assert.equal(envNameFor('webhooks add', 'device'), 'SMSGATE_WEBHOOKS_DEVICE');
});

test('flags win over the command’s variable, which wins over the older name; an ambiguous older name is warned about', async () => {
  const commands = await allCommands();
  const send = commands.find((c) => c.name === 'send')!;
  const device = commands.find((c) => c.name === 'device')!;
  const warnings: string[] = [];
  const context = { commands, warn: (line: string) => warnings.push(line) };

  const both = parseCommandArgs(
    send,
    ['--to', '1', 'x'],
    { SMSGATE_SEND_PASSWORD: 'own', SMSGATE_PASSWORD: 'old' },
    context,
  );
  assert.equal(both.values.password, 'own');
  assert.deepEqual(warnings, [], 'the older name is not read when the command’s own variable is set');
  const flag = parseCommandArgs(send, ['--password', 'flag'], { SMSGATE_SEND_PASSWORD: 'own' }, context);
  assert.equal(flag.values.password, 'flag');

  const old = parseCommandArgs(send, [], { SMSGATE_PASSWORD: 'old' }, context);
  assert.equal(old.values.password, 'old', 'the older name still works');
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^smsgate send: SMSGATE_PASSWORD is read as --password, but it is ambiguous \(.*smsgate device.*smsgate users add.*\); set SMSGATE_SEND_PASSWORD instead$/,
  );

  // an older name only one command ever read is not ambiguous
  warnings.length = 0;
  assert.equal(parseCommandArgs(device, [], { SMSGATE_SIMS: '2' }, context).values.sims, '2');
  assert.deepEqual(warnings, []);
  // `up --device-port` was SMSGATE_DEVICE_PORT, now the device's --port: read, and warned about
  const up = commands.find((c) => c.name === 'up')!;
  assert.equal(parseCommandArgs(up, [], { SMSGATE_DEVICE_PORT: '9999' }, context).values['device-port'], '9999');
  assert.match(warnings[0], /SMSGATE_DEVICE_PORT is read as --device-port, but it is ambiguous \(smsgate device read/);
});

test('secrets come from a file or a variable too; a blank one, or one given twice, is refused', async () => {
  const commands = await allCommands();
  const device = commands.find((c) => c.name === 'device')!;
  const server = commands.find((c) => c.name === 'server')!;
  const dir = tempDir();
  try {
    const file = join(dir.path, 'secret');
    writeFileSync(file, 'from-the-file\nsecond line is not part of it\n');
    assert.equal(parseCommandArgs(device, ['--password-file', file], {}).values.password, 'from-the-file');
    assert.equal(
      parseCommandArgs(device, [], { SMSGATE_DEVICE_SERVER_TOKEN_FILE: file }).values['server-token'],
      'from-the-file',
    );
    assert.equal(parseCommandArgs(server, [], { SMSGATE_SERVER_PRIVATE_TOKEN: 'tok' }).values['private-token'], 'tok');
    assert.throws(() => parseCommandArgs(device, ['--password', 'a', '--password-file', file], {}), /not both/);
    assert.throws(
      () => parseCommandArgs(device, ['--password-file', join(dir.path, 'missing')], {}),
      /--password-file: cannot read .*missing \(ENOENT\)/,
    );
    writeFileSync(file, '  \n');
    assert.throws(
      () => parseCommandArgs(server, ['--private-token-file', file], {}),
      /--private-token is empty \(from --private-token-file\); give a long random one \(e\.g\. the output of `openssl rand -base64 24`\)/,
    );
    assert.throws(
      () => parseCommandArgs(device, ['--server-password', ''], {}),
      /--server-password is empty; give the one you were given/,
    );
  } finally {
    dir.remove();
  }
});

test('the device never prints a password it was given; it reads one from a file or SMSGATE_DEVICE_PASSWORD', async () => {
  const dir = tempDir();
  const secret = 'a-password-the-user-chose-42';
  try {
    const file = join(dir.path, 'password');
    writeFileSync(file, `${secret}\n`);
    for (const [args, env] of [
      [['--password-file', file], {}],
      [[], { SMSGATE_DEVICE_PASSWORD: secret }],
      [['--password', secret], {}],
    ] as const) {
      const device = await startSmsgate(['device', '--port', '0', '--data-dir', join(dir.path, 'data'), ...args], env);
      try {
        assert.equal(device.ready.password, undefined, 'not in the ready line');
        assert.ok(!device.output.some((line) => line.includes(secret)), `never printed:\n${device.output.join('\n')}`);
        assert.ok(device.output.some((line) => line.includes('Local API password: as given')));
        assert.equal((await new LocalApi(device.ready.url, 'sms', secret).call('GET', '/webhooks')).status, 200);
      } finally {
        device.child.kill('SIGTERM');
        await device.exited;
      }
    }
    const blank = await runSmsgate(['device', '--port', '0', '--data-dir', dir.path, '--password', ' ']);
    assert.equal(blank.code, 2);
    assert.match(blank.stderr, /--password is empty; give a long random one/);
  } finally {
    dir.remove();
  }
});

test('the README’s table of variables is the one `smsgate help env` prints', async () => {
  const printed = await runSmsgate(['help', 'env']);
  assert.equal(printed.code, 0);
  const table = printed.stdout.trim();
  assert.match(table, /SMSGATE_DEVICE_PASSWORD_FILE/);
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(table), `README.md should hold the output of \`smsgate help env\`:\n${table}`);
});
