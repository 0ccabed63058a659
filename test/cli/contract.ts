import assert from 'node:assert/strict';

export type Run = (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/** The commands `smsgate --help` lists, e.g. ['up', 'device', …, 'sim receive', …]. */
export function listedCommands(overview: string): string[] {
  const section = overview.split('Commands:\n')[1]?.split('\n\n')[0] ?? '';
  return section
    .split('\n')
    .map((line) => /^ {2}(\S+(?: [a-z]+)?) {2,}/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

/** Run `tasks` at most `limit` at a time: each is a process start, and the machine is shared. */
async function inBatches<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += limit)
    results.push(...(await Promise.all(tasks.slice(i, i + limit).map((t) => t()))));
  return results;
}

/**
 * What every smsgate CLI must do, however it was installed: --version, --help for every command
 * with exit 0, and a wrong flag exiting 2 with a one-line error followed by the command's usage.
 */
export async function checkCliContract(run: Run, version: string): Promise<string[]> {
  const versionRun = await run(['--version']);
  assert.deepEqual([versionRun.code, versionRun.stdout.trim()], [0, version], versionRun.stderr);

  const overview = await run(['--help']);
  assert.equal(overview.code, 0, overview.stderr);
  const commands = listedCommands(overview.stdout);
  assert.ok(commands.length >= 15 && commands.includes('sim receive'), `commands listed: ${commands.join(', ')}`);

  await inBatches(
    4,
    commands.map((command) => async () => {
      const words = command.split(' ');
      const help = await run([...words, '--help']);
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: smsgate ${command} \\[options\\]`), command);
      assert.match(help.stdout, /--help, -h/, command);

      const wrong = await run([...words, '--no-such-flag']);
      assert.equal(wrong.code, 2, `${command} --no-such-flag exits 2: ${wrong.stderr}`);
      assert.equal(wrong.stdout, '', command);
      const [error, usage, ...rest] = wrong.stderr.trimEnd().split('\n');
      assert.equal(error, `smsgate ${command}: unknown option '--no-such-flag'`);
      assert.match(usage, new RegExp(`^Usage: smsgate ${command} \\[options\\]`), command);
      assert.deepEqual(rest, [`Run \`smsgate ${command} --help\` for its options.`], command);
    }),
  );
  return commands;
}
