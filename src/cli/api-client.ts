import type { OptionSpec, ParsedArgs } from './command.ts';
import { envNameFor, stringOpt, UsageError } from './command.ts';

/** Options every command that talks to a running device or server shares. */
export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  device: { type: 'string', description: 'Local API URL of a device, e.g. http://127.0.0.1:8080' },
  server: { type: 'string', description: 'server URL, e.g. http://127.0.0.1:3000 (uses /3rdparty/v1)' },
  username: { type: 'string', description: 'Basic auth user (device: sms; server: your login)', default: 'sms' },
  password: { type: 'string', description: 'Basic auth password', secret: 'known' },
};

export interface ApiTarget {
  baseUrl: string;
  authorization: string;
  kind: 'device' | 'server';
}

export function targetFrom(args: ParsedArgs, allowServer = true): ApiTarget {
  const device = stringOpt(args, 'device');
  const server = allowServer ? stringOpt(args, 'server') : undefined;
  if (!device && !server) throw new UsageError(allowServer ? 'give --device URL or --server URL' : 'give --device URL');
  if (device && server) throw new UsageError('give either --device or --server, not both');
  const password = stringOpt(args, 'password');
  if (password === undefined) {
    throw new UsageError(
      `--password is required (or --password-file, or set ${envNameFor(args.command ?? 'webhooks', 'password')})`,
    );
  }
  const username = stringOpt(args, 'username') ?? 'sms';
  return {
    baseUrl: device ? device.replace(/\/+$/, '') : server!.replace(/\/+$/, '') + '/3rdparty/v1',
    authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64'),
    kind: device ? 'device' : 'server',
  };
}

/** Call the API; on a non-2xx answer throw the server's own `message`. */
export async function callApi<T>(target: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(target.baseUrl + path, {
      method,
      headers: {
        authorization: target.authorization,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (error) {
    throw new Error(
      `cannot reach ${target.baseUrl}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`,
      { cause: error },
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      // not JSON: show it as it is
    }
    throw new Error(`${method} ${path} answered ${response.status}: ${message}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}
