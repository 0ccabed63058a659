import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const SMSGATE_BIN = fileURLToPath(new URL('../../bin/smsgate.js', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  ready: Record<string, any>;
  output: string[];
  /** resolves with the exit code (or signal) */
  exited: Promise<number | string>;
}

/** Start `smsgate <args>` as a real child process and wait for its `ready {json}` line. */
export async function startSmsgate(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 20_000,
  cwd?: string,
): Promise<RunningProcess> {
  const child = spawn(process.execPath, [SMSGATE_BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const ready = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Do not leave it running: a leaked child keeps the test runner alive.
      child.kill('SIGKILL');
      reject(new Error(`no ready line within ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(6)));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`smsgate ${args[0]} exited (${code}) before it was ready:\n${output.join('\n')}`));
    });
  });
  return { child, ready, output, exited };
}
