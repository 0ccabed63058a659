import * as sdk from 'android-sms-gateway';
import type { HttpClient } from 'android-sms-gateway';
import { createServer, type RunningServer, type ServerOptions } from '../../src/server/server.ts';
import { SMSGATE_BIN, startSmsgate, type RunningProcess } from '../helpers/process.ts';
import { MobileClient, register, type Registration } from '../../src/device/link/mobile-client.ts';

import { tempDir, eventually } from '../helpers/common.ts';

export { tempDir, eventually };

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

export { basic, bearer, call, type Reply } from '../helpers/http.ts';

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
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

async function clientCall<T>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
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

/**
 * Register a device with the server's private token (a new user) or a user's Basic auth, and connect
 * it once (a message without deviceId goes only to devices that have connected): its credentials
 * and a client for the device.
 */
export async function newDevice(
  server: RunningServer,
  name = 'test phone',
  as?: { login: string; password: string },
): Promise<{ registration: Registration; mobile: MobileClient; login: string; password: string }> {
  const registration = await register(
    server.url,
    as ? { basicAuth: as, name } : { privateToken: server.privateToken, name },
  );
  const mobile = new MobileClient(server.url, registration.token);
  // a phone uses its token right after registering: from then on it has connected
  await mobile.getDevice();
  return {
    registration,
    mobile,
    login: registration.login,
    password: as ? as.password : registration.password!,
  };
}

export interface Spawned extends RunningProcess {
  stop(): Promise<void>;
}

/** Start `smsgate <args>` as a real process and wait for its `ready {json}` line; stop() sends SIGTERM and waits. */
export async function spawnSmsgate(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Spawned> {
  const running = await startSmsgate(args, options.env, options.timeoutMs, options.cwd);
  const { child } = running;
  return {
    ...running,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await running.exited;
    },
  };
}

/** Run a one-shot `smsgate <args>`; resolves with its exit code and output. */
export async function runSmsgate(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [SMSGATE_BIN, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}
