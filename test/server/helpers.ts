import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sdk from 'android-sms-gateway';
import type { HttpClient } from 'android-sms-gateway';
import { createServer, type RunningServer, type ServerOptions } from '../../src/server/server.ts';
import { MobileClient, register, type Registration } from '../../src/device/link/mobile-client.ts';

export function tempDir(prefix = 'smsgate-server-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export type TestServer = RunningServer & { dataDir: string; cleanup(): Promise<void> };

/** A real server: real SQLite file in a temp dir, real HTTP on a free loopback port. */
export async function startTestServer(options: ServerOptions = {}): Promise<TestServer> {
  const dir = tempDir();
  const server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1', ...options });
  return Object.assign(server, {
    dataDir: dir.path,
    async cleanup() {
      await server.close();
      dir.remove();
    },
  });
}

export const basic = (login: string, password: string) => 'Basic ' + Buffer.from(`${login}:${password}`).toString('base64');
export const bearer = (token: string) => `Bearer ${token}`;

export interface Reply<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** One raw HTTP call: status, parsed body (or undefined when empty), headers. */
export async function call<T = any>(
  url: string,
  method: string,
  options: { auth?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(options.auth ? { authorization: options.auth } : {}), ...options.headers };
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`${status}: ${body}`);
  }
}

/** The HttpClient the official client needs, on fetch; 204 and other empty bodies become undefined. */
export const fetchHttpClient: HttpClient = {
  get: (url, headers) => clientCall('GET', url, undefined, headers),
  post: (url, body, headers) => clientCall('POST', url, body, headers),
  put: (url, body, headers) => clientCall('PUT', url, body, headers),
  patch: (url, body, headers) => clientCall('PATCH', url, body, headers),
  delete: (url, headers) => clientCall('DELETE', url, undefined, headers),
};

async function clientCall<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new HttpStatusError(response.status, text);
  return (response.status === 204 || text === '' ? undefined : JSON.parse(text)) as T;
}

// The package ships ESM without "type": "module", so TypeScript reads it as CommonJS and puts
// the class at `.default.default`; at run time it is the namespace's `.default`.
type ClientClass = (typeof sdk.default)['default'];
export const OfficialClient = sdk.default as unknown as ClientClass;
export type OfficialClient = InstanceType<ClientClass>;

export function officialClient(login: string, password: string, baseUrl: string): OfficialClient {
  return new OfficialClient(login, password, fetchHttpClient, baseUrl);
}

/** Register a device with the server's private token: a new user, its credentials and a client for the device. */
export async function newDevice(server: RunningServer, name = 'test phone', as?: { login: string; password: string }): Promise<{ registration: Registration; mobile: MobileClient; login: string; password: string }> {
  const registration = await register(server.url, as ? { basicAuth: as, name } : { privateToken: server.privateToken, name });
  return {
    registration,
    mobile: new MobileClient(server.url, registration.token),
    login: registration.login,
    password: as ? as.password : registration.password!,
  };
}

/** Poll until `check` returns a truthy value, or fail naming `what`. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const SMSGATE_BIN = new URL('../../bin/smsgate.js', import.meta.url).pathname;

export interface Spawned {
  child: import('node:child_process').ChildProcess;
  ready: Record<string, any>;
  output: string[];
  stop(): Promise<void>;
}

/** Start `smsgate <args>` as a real process and wait for its `ready {json}` line. */
export async function spawnSmsgate(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Spawned> {
  const { spawn } = await import('node:child_process');
  const { createInterface } = await import('node:readline');
  const child = spawn(process.execPath, [SMSGATE_BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  const ready = await new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within ${options.timeoutMs ?? 20_000} ms:\n${output.join('\n')}`)), options.timeoutMs ?? 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(6)));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`smsgate ${args.join(' ')} exited before it was ready:\n${output.join('\n')}`));
    });
  });
  return {
    child,
    ready,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Run a one-shot `smsgate <args>`; resolves with its exit code and output. */
export async function runSmsgate(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(process.execPath, [SMSGATE_BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
