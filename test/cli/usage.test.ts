import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runSmsgate } from '../server/helpers.ts';
import { checkCliContract } from './contract.ts';

const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

test('--version, --help for every command (exit 0), and a wrong flag (exit 2, one line and the usage)', async () => {
  const commands = await checkCliContract((args) => runSmsgate(args), VERSION);
  assert.ok(commands.includes('ca issue') && commands.includes('users passwd'), commands.join(', '));
});

test('usage mistakes name what is wrong and exit 2; help for a group lists its commands', async () => {
  const [none, typo, extra, missingValue, groupHelp, group, unknownInGroup, helpFor] = await Promise.all([
    runSmsgate([]),
    runSmsgate(['device', '--datadir', 'x']),
    runSmsgate(['device', 'extra']),
    runSmsgate(['send', '--to']),
    runSmsgate(['webhooks', '--help']),
    runSmsgate(['webhooks']),
    runSmsgate(['sim', 'dial']),
    runSmsgate(['help', 'sim', 'network']),
  ]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Usage: smsgate <command>/);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^smsgate device: unknown option '--datadir'; did you mean --data-dir\?\n/);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /^smsgate device: unexpected argument 'extra': this command takes options only\n/);
  assert.equal(missingValue.code, 2);
  assert.match(missingValue.stderr, /^smsgate send: option '--to <value>' argument missing\nUsage: smsgate send/);
  assert.equal(groupHelp.code, 0);
  assert.match(groupHelp.stdout, /^Usage: smsgate webhooks <add\|list\|rm>/);
  assert.equal(group.code, 2);
  assert.match(group.stderr, /webhooks list/);
  assert.equal(unknownInGroup.code, 2);
  assert.match(unknownInGroup.stderr, /^smsgate sim: unknown command "dial"; choose one of: sim receive, sim network/);
  assert.equal(helpFor.code, 0);
  assert.match(helpFor.stdout, /^Usage: smsgate sim network \[options\] online\|offline/);
});
