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
