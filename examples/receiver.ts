/**
 * A small webhook receiver for an smsgate device (or SMS Gateway for Android in Local mode), in
 * the spirit of the seed's "FastAPI webhook processor":
 *
 *   1. reads the signing key from the device (GET /settings → webhooks.signing_key),
 *   2. registers itself for all five events,
 *   3. verifies every request on its raw bytes, drops repeated ids, handles each event type,
 *   4. removes its registrations again on Ctrl-C / SIGTERM.
 *
 * Run it (see examples/README.md):
 *   DEVICE_PASSWORD=<printed by `npm run device`> node --import tsx examples/receiver.ts
 *
 * In this repository, tsconfig.json maps smsgate-receiver to packages/receiver/src (run it from the
 * repository's root, where tsx finds that file); in your own project it is the npm package.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  createDeduper,
  parseWebhook,
  readRawBody,
  RawBodyError,
  verifyWebhook,
  WEBHOOK_EVENTS,
  type WebhookEvent,
} from 'smsgate-receiver';

// ---- configuration: flags win over the environment ----------------------------------------

const { values: flags } = parseArgs({
  options: {
    device: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'public-url': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});
const config = {
  /** the device's Local API */
  device: (flags.device ?? process.env.DEVICE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
  username: flags.username ?? process.env.DEVICE_USERNAME ?? 'sms',
  password: flags.password ?? process.env.DEVICE_PASSWORD,
  host: flags.host ?? process.env.HOST ?? '127.0.0.1',
  /** 0 picks a free port */
  port: Number(flags.port ?? process.env.PORT ?? 3001),
  /** the URL the device should call, when it is not http://HOST:PORT/webhook (e.g. behind a proxy, or on a LAN) */
  publicUrl: flags['public-url'] ?? process.env.PUBLIC_URL,
  /** serve HTTPS with these PEM files, e.g. from `smsgate ca issue <your LAN IP>` */
  tlsCert: flags['tls-cert'] ?? process.env.TLS_CERT,
  tlsKey: flags['tls-key'] ?? process.env.TLS_KEY,
};
if (!config.password) {
  console.error('Set DEVICE_PASSWORD (or --password): the Local API password that `npm run device` printed.');
  process.exit(2);
}
if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
  console.error('TLS_CERT and TLS_KEY (--tls-cert, --tls-key) go together.');
  process.exit(2);
}

// ---- the device's Local API -----------------------------------------------------------------

const authorization = 'Basic ' + Buffer.from(`${config.username}:${config.password}`).toString('base64');

async function deviceApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(config.device + path, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} ${config.device}${path} answered ${response.status}: ${text.slice(0, 200)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function fetchSigningKey(): Promise<string> {
  const settings = await deviceApi<{ webhooks: { signing_key: string } }>('GET', '/settings');
  return settings.webhooks.signing_key;
}

// Fixed ids: running the receiver again replaces its registrations instead of adding more.
const webhookId = (event: string) => `example-${event.replaceAll(':', '-')}`; // ids are at most 36 characters

// ---- handling -------------------------------------------------------------------------------

/** One line per event. This is where your application would do its work. */
function handle(event: WebhookEvent): void {
  const at = `${event.event.padEnd(13)} ${event.id}`;
  switch (event.event) {
    case 'sms:received':
      console.log(
        `handled ${at} from ${event.payload.sender} (SIM ${event.payload.simNumber ?? '?'}): ${JSON.stringify(event.payload.message)}`,
      );
      break;
    case 'sms:data-received':
      console.log(`handled ${at} data from ${event.payload.sender}: ${event.payload.data}`);
      break;
    case 'sms:sent':
      console.log(
        `handled ${at} message ${event.payload.messageId} sent to ${event.payload.recipient} in ${event.payload.partsCount} part(s) at ${event.payload.sentAt}`,
      );
      break;
    case 'sms:delivered':
      console.log(
        `handled ${at} message ${event.payload.messageId} delivered to ${event.payload.recipient} at ${event.payload.deliveredAt}`,
      );
      break;
    case 'sms:failed':
      console.log(
        `handled ${at} message ${event.payload.messageId} to ${event.payload.recipient} failed: ${event.payload.reason}`,
      );
      break;
    case 'sms:cancelled':
      console.log(`handled ${at} message ${event.payload.messageId} to ${event.payload.recipient} cancelled`);
      break;
    case 'mms:received':
      console.log(`handled ${at} MMS ${event.payload.transactionId} announced by ${event.payload.sender}`);
      break;
    case 'mms:downloaded':
      console.log(`handled ${at} MMS from ${event.payload.sender} with ${event.payload.attachments.length} part(s)`);
      break;
    case 'system:ping':
      console.log(`handled ${at} device health ${event.payload.health.status}`);
      break;
    case 'app:started':
      console.log(`handled ${at} device started with ${event.payload.simCards.length} SIM card(s)`);
      break;
    case 'sms:batch:received':
    case 'sms:batch:data-received':
    case 'mms:batch:received':
    case 'mms:batch:downloaded':
      console.log(`handled ${at} ${event.payload.messages.length} message(s)`);
      break;
    default: {
      // The compiler checks that every event has a case above.
      const unhandled: never = event;
      throw new Error(`unhandled event ${JSON.stringify(unhandled)}`);
    }
  }
}

let signingKey: string;
try {
  signingKey = await fetchSigningKey();
} catch (error) {
  const cause = (error as Error & { cause?: Error }).cause;
  console.error(`cannot read the signing key from ${config.device}: ${cause?.message ?? (error as Error).message}`);
  process.exit(1);
}
let lastKeyRefresh = Date.now();
const dedupe = createDeduper(); // remembers ids for 48 h: longer than the device keeps retrying

async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const answer = (status: number, message: string): void =>
    void res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
  if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== '/webhook')
    return answer(404, 'not found');

  let raw: Buffer;
  try {
    raw = await readRawBody(req); // the bytes as sent: the signature covers exactly these
  } catch (error) {
    return answer(error instanceof RawBodyError ? error.statusCode : 400, (error as Error).message);
  }

  let check = verifyWebhook(signingKey, raw, req.headers);
  if (!check.ok && check.reason === 'mismatch' && Date.now() - lastKeyRefresh > 5000) {
    // The key may have been rotated on the device since we started: read it again (rate-limited).
    lastKeyRefresh = Date.now();
    signingKey = await fetchSigningKey().catch(() => signingKey);
    check = verifyWebhook(signingKey, raw, req.headers);
  }
  if (!check.ok) {
    console.log(`rejected ${check.reason}: ${check.message}`);
    return answer(401, check.message);
  }

  const parsed = parseWebhook(raw);
  // 2xx for what we do not understand, or the device retries it for two days.
  if (!parsed.ok) return answer(200, `ignored: ${parsed.error.message}`);
  const event = parsed.event;

  // Every retry carries the same id; a redelivery can also come after we already handled it.
  if (dedupe.seen(event.id)) {
    console.log(`duplicate ${event.event} ${event.id} dropped`);
    return answer(200, 'duplicate');
  }
  try {
    handle(event);
  } catch (error) {
    dedupe.forget(event.id); // let the device's retry be processed
    console.error(`failed ${event.event} ${event.id}: ${(error as Error).message}`);
    return answer(500, 'handler failed');
  }
  answer(204, '');
}

// ---- start, register, deregister ------------------------------------------------------------

const listener = (req: IncomingMessage, res: ServerResponse) => {
  onRequest(req, res).catch((error) => {
    console.error(`request failed: ${(error as Error).message}`);
    if (!res.headersSent) res.writeHead(500).end();
  });
};
const tls =
  config.tlsCert && config.tlsKey
    ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }
    : undefined;
const server = tls ? createHttpsServer(tls, listener) : createServer(listener);
await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
const { port } = server.address() as AddressInfo;
const callbackUrl =
  config.publicUrl ??
  `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/webhook`;

const registered: string[] = [];
async function deregister(): Promise<void> {
  for (const id of registered.splice(0)) {
    await deviceApi('DELETE', `/webhooks/${id}`).catch((error) =>
      console.error(`could not remove webhook ${id}: ${(error as Error).message}`),
    );
  }
}

try {
  for (const event of WEBHOOK_EVENTS) {
    await deviceApi('POST', '/webhooks', { id: webhookId(event), url: callbackUrl, event });
    registered.push(webhookId(event));
  }
} catch (error) {
  console.error(`cannot register with the device: ${(error as Error).message}`);
  await deregister();
  server.close();
  process.exit(1);
}
console.log(`receiving ${WEBHOOK_EVENTS.join(', ')} from ${config.device} at ${callbackUrl}`);
// The smsgate convention: one machine-readable line once ready, for scripts and tests.
console.log(`ready ${JSON.stringify({ url: callbackUrl, device: config.device, webhooks: registered })}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const count = registered.length;
  await deregister();
  console.log(`${signal}: deregistered ${count} webhooks, stopping`);
  server.closeAllConnections();
  server.close(() => process.exit(0));
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
