import { readFileSync } from 'node:fs';
import type { Command } from './command.ts';
import { intOpt, listenOptions, printReady, stopOnSignals, stringOpt, UsageError } from './command.ts';
import { startListener, type ListenRecord } from '../receiver/listener.ts';
import { redactUrl } from '../protocol/index.ts';

const command: Command = {
  name: 'listen',
  summary:
    'A local webhook endpoint (like webhook.site): prints every request, says whether its signature verifies, ' +
    'and answers with the status you choose, to exercise retries.',
  options: {
    ...listenOptions('port to listen on (0 picks a free one)', '9000'),
    secret: {
      type: 'string',
      description: 'the signing key to verify with (device setting webhooks.signing_key)',
      secret: 'known',
    },
    device: {
      type: 'string',
      description: "instead of --secret: read the key from this device's GET /settings, e.g. http://127.0.0.1:8080",
    },
    username: { type: 'string', description: 'Local API user of --device', default: 'sms' },
    password: { type: 'string', description: 'Local API password of --device', secret: 'known' },
    status: { type: 'string', description: 'status to answer with', default: '200' },
    'fail-first': { type: 'string', description: 'answer 500 to the first N requests, then --status', default: '0' },
    tolerance: { type: 'string', description: 'accepted X-Timestamp skew in seconds', default: '300' },
    json: { type: 'boolean', description: 'print one JSON line per request instead of the readable form' },
    tls: { type: 'boolean', description: 'serve HTTPS with --cert and --key (make them with `smsgate ca issue`)' },
    cert: { type: 'string', description: 'certificate PEM file for --tls' },
    key: { type: 'string', description: 'private key PEM file for --tls' },
  },
  async run(args) {
    const status = intOpt(args, 'status')!;
    if (status < 200 || status > 599) throw new UsageError(`--status must be between 200 and 599, got ${status}`);
    const failFirst = intOpt(args, 'fail-first')!;
    if (failFirst < 0) throw new UsageError(`--fail-first must be 0 or more, got ${failFirst}`);
    const port = intOpt(args, 'port')!;
    if (port < 0 || port > 65535) throw new UsageError(`--port must be between 0 and 65535, got ${port}`);
    const toleranceSec = intOpt(args, 'tolerance')!;
    if (toleranceSec < 0) throw new UsageError(`--tolerance must be 0 or more seconds, got ${toleranceSec}`);
    const tls = readTls(args.values.tls === true, stringOpt(args, 'cert'), stringOpt(args, 'key'));

    const secretOpt = stringOpt(args, 'secret');
    const device = stringOpt(args, 'device');
    if (secretOpt !== undefined && device !== undefined)
      throw new UsageError('give either --secret or --device, not both');
    let secret = secretOpt;
    let refreshSecret: (() => Promise<string | undefined>) | undefined;
    let keySource = secret ? '--secret' : 'nothing: requests are shown but not verified (give --secret or --device)';
    if (device !== undefined) {
      const password = stringOpt(args, 'password');
      if (password === undefined)
        throw new UsageError('--device needs --password (the Local API password) to read the signing key');
      const username = stringOpt(args, 'username') ?? 'sms';
      refreshSecret = () => fetchSigningKey(device, username, password);
      secret = await refreshSecret();
      keySource = `the signing key of ${device}`;
    }
    if (secret === '') throw new UsageError('--secret is empty');

    const json = args.values.json === true;
    const listener = await startListener({
      port,
      host: stringOpt(args, 'host'),
      secret,
      refreshSecret,
      status,
      failFirst,
      tls,
      toleranceSec,
      onRequest: (record) => process.stdout.write(json ? JSON.stringify(record) + '\n' : formatRecord(record)),
    });

    if (!json) {
      const failing = failFirst > 0 ? `500 to the first ${failFirst} request(s), then ${status}` : String(status);
      console.log(`smsgate listen on ${listener.url}\n  verifying with ${keySource}\n  answering ${failing}`);
    }
    printReady({ url: listener.url });

    // stdout may be JSON lines (--json): nothing else is printed there
    stopOnSignals(() => listener.close());
  },
};
export default command;

function readTls(enabled: boolean, certFile: string | undefined, keyFile: string | undefined) {
  if (!enabled) {
    if (certFile || keyFile)
      throw new UsageError('--cert and --key are used only with --tls; add --tls to serve HTTPS');
    return undefined;
  }
  if (!certFile || !keyFile) {
    throw new UsageError(
      '--tls needs --cert FILE and --key FILE; make them with `smsgate ca init` then `smsgate ca issue 127.0.0.1`',
    );
  }
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read the ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  };
  return { cert: read(certFile, 'certificate'), key: read(keyFile, 'key') };
}

/** The device's signing key from its Local API (GET /settings → webhooks.signing_key). */
export async function fetchSigningKey(deviceUrl: string, username: string, password: string): Promise<string> {
  const url = deviceUrl.replace(/\/+$/, '') + '/settings';
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') },
    });
  } catch (error) {
    const cause = (error as Error & { cause?: Error & { code?: string } }).cause;
    const hint =
      cause?.code?.startsWith('UNABLE_TO_VERIFY') || cause?.code === 'SELF_SIGNED_CERT_IN_CHAIN'
        ? ' (for a device with a private CA, set NODE_EXTRA_CA_CERTS=data/ca/ca.crt.pem)'
        : '';
    throw new Error(
      `cannot reach the device at ${redactUrl(url)}: ${cause?.message ?? (error as Error).message}${hint}`,
      {
        cause: error,
      },
    );
  }
  if (response.status === 401)
    throw new Error(`the device at ${deviceUrl} refused the credentials (401): check --username and --password`);
  if (!response.ok)
    throw new Error(`GET ${redactUrl(url)} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  const settings = (await response.json()) as { webhooks?: { signing_key?: unknown } };
  const key = settings.webhooks?.signing_key;
  if (typeof key !== 'string' || key === '')
    throw new Error(`the settings of ${deviceUrl} have no webhooks.signing_key; pass --secret instead`);
  return key;
}

/** The readable form of one request. */
export function formatRecord(record: ListenRecord): string {
  const lines = [`── ${record.method} ${record.path}  ${record.receivedAt}`];
  lines.push(`  event:     ${record.event ?? '(none)'}`);
  lines.push(
    `  id:        ${record.id ?? '(none)'}   webhookId: ${record.webhookId ?? '(none)'}   deviceId: ${record.deviceId ?? '(none)'}`,
  );
  lines.push(`  verified:  ${record.verified ? 'yes' : `no (${record.reason})`}`);
  if (record.detail) lines.push(`             ${record.detail}`);
  lines.push(
    `  latency:   ${record.latencyMs === null ? 'unknown (no usable X-Timestamp)' : `${record.latencyMs} ms since X-Timestamp`}`,
  );
  lines.push(`  answered:  ${record.status}`);
  if (record.parseError) lines.push(`  problem:   ${record.parseError}`);
  const payload = typeof record.payload === 'string' ? record.payload : JSON.stringify(record.payload, null, 2);
  lines.push(`  payload:   ${(payload === '' ? '(empty body)' : payload).split('\n').join('\n             ')}`);
  return lines.join('\n') + '\n\n';
}
