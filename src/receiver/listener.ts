import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  getHeader,
  parseWebhook,
  readRawBody,
  RawBodyError,
  verifySignature,
  type VerifyFailureReason,
} from 'smsgate-receiver';

/** What `smsgate listen` records for every request; also its `--json` line. */
export interface ListenRecord {
  receivedAt: string;
  method: string;
  path: string;
  event: string | null;
  id: string | null;
  webhookId: string | null;
  deviceId: string | null;
  verified: boolean;
  /** why it did not verify: a verifySignature reason, or 'no-secret' when the listener has no key */
  reason: VerifyFailureReason | 'no-secret' | null;
  /** the reason in words, with what to check */
  detail: string | null;
  /** ms from X-Timestamp to arrival; whole-second resolution since X-Timestamp is in seconds */
  latencyMs: number | null;
  /** the status this listener answered */
  status: number;
  /** the parsed payload, or the raw body text when it is not a JSON envelope */
  payload: unknown;
  /** why the body is not a well-formed webhook (null when it is) */
  parseError: string | null;
}

export interface ListenerOptions {
  port?: number;
  host?: string;
  /** The signing key. Without one every request is shown as not verified ('no-secret'). */
  secret?: string;
  /**
   * Fetch the key again (e.g. from the device) when a request does not verify with the current
   * one: the key may have been rotated since the listener started. Called at most every 2 s.
   */
  refreshSecret?: () => Promise<string | undefined>;
  /** Status answered once the --fail-first requests are used up. */
  status?: number;
  /** Answer 500 to this many requests first, to make the device retry. */
  failFirst?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  toleranceSec?: number;
  onRequest?: (record: ListenRecord) => void;
}

export interface Listener {
  url: string;
  port: number;
  /** every request so far, in arrival order */
  records: ListenRecord[];
  close(): Promise<void>;
}

const REFRESH_INTERVAL_MS = 2000;

/** A local webhook endpoint: accepts any method and path, verifies, records, answers as told. */
export async function startListener(options: ListenerOptions = {}): Promise<Listener> {
  const status = options.status ?? 200;
  const failFirst = options.failFirst ?? 0;
  if (!Number.isInteger(status) || status < 200 || status > 599)
    throw new RangeError(`status must be 200–599, got ${status}`);
  if (!Number.isInteger(failFirst) || failFirst < 0)
    throw new RangeError(`failFirst must be a whole number ≥ 0, got ${failFirst}`);

  let secret = options.secret;
  let lastRefresh = 0;
  let count = 0;
  const records: ListenRecord[] = [];

  const verify = async (raw: Buffer, timestamp: string | undefined, signature: string | undefined, arrival: number) => {
    const attempt = () =>
      secret
        ? verifySignature(secret, raw, timestamp, signature, { now: arrival, toleranceSec: options.toleranceSec })
        : undefined;
    let result = attempt();
    const worthRefreshing = !result || (result.ok === false && result.reason === 'mismatch');
    if (worthRefreshing && options.refreshSecret && Date.now() - lastRefresh >= REFRESH_INTERVAL_MS) {
      lastRefresh = Date.now();
      try {
        const fresh = await options.refreshSecret();
        if (fresh && fresh !== secret) {
          secret = fresh;
          result = attempt();
        }
      } catch {
        // The device may be down; keep the key we have and report the request as it verified.
      }
    }
    return result;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const arrival = Date.now();
    let raw: Buffer;
    try {
      raw = await readRawBody(req);
    } catch (error) {
      const statusCode = error instanceof RawBodyError ? error.statusCode : 400;
      res
        .writeHead(statusCode, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: (error as Error).message }));
      return;
    }
    // Counted once the body is in, so a request cut short does not use up a --fail-first slot.
    const index = count++;
    const timestamp = getHeader(req.headers, 'x-timestamp');
    const signature = getHeader(req.headers, 'x-signature');
    const result = await verify(raw, timestamp, signature, arrival);

    const failing = index < failFirst;
    const answer = failing ? 500 : status;
    const text = raw.toString('utf8');
    const parsed = parseWebhook(raw);
    // Show ids even for a body that is not a valid envelope, when they are there.
    let loose: Record<string, unknown> | undefined;
    if (parsed.ok) loose = parsed.event as unknown as Record<string, unknown>;
    else {
      try {
        const value = JSON.parse(text);
        if (value && typeof value === 'object' && !Array.isArray(value)) loose = value;
      } catch {
        // not JSON: the payload is shown as text
      }
    }
    const field = (name: string) => (typeof loose?.[name] === 'string' ? (loose[name] as string) : null);

    const record: ListenRecord = {
      receivedAt: new Date(arrival).toISOString(),
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      event: field('event'),
      id: field('id'),
      webhookId: field('webhookId'),
      deviceId: field('deviceId'),
      verified: result?.ok === true,
      reason: result === undefined ? 'no-secret' : result.ok ? null : result.reason,
      detail:
        result === undefined
          ? 'the listener has no signing key: start it with --secret or --device'
          : result.ok
            ? null
            : result.message,
      latencyMs: timestamp && /^[0-9]{1,15}$/.test(timestamp) ? arrival - Number(timestamp) * 1000 : null,
      status: answer,
      payload: loose ? (loose.payload ?? loose) : text,
      parseError: parsed.ok ? null : parsed.error.message,
    };
    records.push(record);
    options.onRequest?.(record);

    const body = failing
      ? { message: `failing on purpose: request ${index + 1} of the first ${failFirst} (--fail-first)` }
      : { received: true, verified: record.verified, ...(record.reason ? { reason: record.reason } : {}) };
    res.writeHead(answer, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `listener error: ${(error as Error).message}` }));
    });
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createHttpServer(onRequest);

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${shownHost}:${port}/`,
    port,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
