import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from './command.ts';
import { intOpt, listenOptions, listOpt, printReady, stopOnSignals, stringOpt, UsageError } from './command.ts';
import { startDevice } from '../device/runtime.ts';
import { parseSimCards, type VirtualSimCard } from '../device/carrier/virtual-carrier.ts';
import { timeScaleFromEnv } from '../shared/clock.ts';

const command: Command = {
  name: 'device',
  summary: 'Run a virtual device: the Local API, the virtual carrier and webhook delivery.',
  options: {
    'data-dir': { type: 'string', description: 'where the device keeps its SQLite file', default: './data' },
    ...listenOptions('Local API port', '8080'),
    username: { type: 'string', description: 'Local API user', default: 'sms' },
    password: {
      type: 'string',
      description: 'Local API password (default: random, generated once and printed)',
      secret: 'chosen',
    },
    tz: { type: 'string', description: 'time zone of payload timestamps (IANA name; default: the system zone)' },
    sims: {
      type: 'string',
      description:
        'SIM cards of the virtual carrier: a count (made-up numbers), or comma-separated number[:carrier] entries, e.g. +15550100001:Virtual Mobile,+15550100002',
      default: '1',
    },
    'insecure-http': { type: 'boolean', description: 'accept http:// webhook URLs to any host (LAN testing)' },
    'trust-proxy': {
      type: 'string',
      description:
        'comma-separated addresses or CIDR ranges of proxies in front whose X-Forwarded-For is believed (default: none; see docs/security.md)',
    },
    ca: {
      type: 'string',
      description:
        'PEM file of a CA to trust for webhook deliveries and for the --server (e.g. the ca.crt.pem of `smsgate ca init`)',
    },
    'tls-cert': { type: 'string', description: 'serve the Local API over HTTPS with this certificate (PEM)' },
    'tls-key': { type: 'string', description: 'the key of --tls-cert (PEM)' },
    concurrency: { type: 'string', description: 'webhook attempts in flight at once', default: '32' },
    'per-receiver': {
      type: 'string',
      description:
        'attempts in flight at once to one receiver (scheme://host:port); default half of --concurrency, so a hanging receiver leaves the rest to the others',
    },
    server: { type: 'string', description: 'link to this server (Private/Cloud mode), e.g. http://127.0.0.1:3000' },
    'server-token': {
      type: 'string',
      description: "the server's private token (registers a new server user)",
      secret: 'known',
    },
    'server-login': { type: 'string', description: 'attach to this existing server user instead' },
    'server-password': { type: 'string', description: 'the password of --server-login', secret: 'known' },
    name: { type: 'string', description: 'device name shown by the server' },
  },
  async run(args) {
    const port = intOpt(args, 'port')!;
    const certFile = stringOpt(args, 'tls-cert');
    const keyFile = stringOpt(args, 'tls-key');
    if (Boolean(certFile) !== Boolean(keyFile)) throw new UsageError('--tls-cert and --tls-key go together');
    const caFile = stringOpt(args, 'ca');
    const server = stringOpt(args, 'server');
    const serverLogin = stringOpt(args, 'server-login');
    if (Boolean(serverLogin) !== Boolean(stringOpt(args, 'server-password')))
      throw new UsageError('--server-login and --server-password go together');
    if (!server && (serverLogin || stringOpt(args, 'server-token')))
      throw new UsageError('--server-token and --server-login need --server URL');
    const device = await startDevice({
      dataDir: resolve(stringOpt(args, 'data-dir')!),
      port,
      host: stringOpt(args, 'host'),
      username: stringOpt(args, 'username'),
      password: stringOpt(args, 'password'),
      timeZone: stringOpt(args, 'tz'),
      timeScale: timeScaleFromEnv(),
      sims: simCardsFrom(stringOpt(args, 'sims')!),
      insecureHttp: args.values['insecure-http'] === true,
      trustProxy: listOpt(args, 'trust-proxy'),
      extraCa: caFile ? [readFileSync(caFile, 'utf8')] : undefined,
      https:
        certFile && keyFile ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } : undefined,
      concurrency: intOpt(args, 'concurrency'),
      perReceiverLimit: intOpt(args, 'per-receiver'),
      link: server
        ? {
            serverUrl: server.replace(/\/+$/, ''),
            privateToken: stringOpt(args, 'server-token'),
            login: serverLogin,
            password: stringOpt(args, 'server-password'),
            name: stringOpt(args, 'name'),
          }
        : undefined,
    });
    const lines = [
      `smsgate device ${device.deviceId} listening on ${device.url}`,
      `  Local API user: ${device.username}`,
    ];
    // A password the user gave is never printed back (it would land in logs); one generated is.
    const givenPassword = stringOpt(args, 'password') !== undefined;
    const shownPassword = givenPassword ? undefined : device.password;
    lines.push(
      givenPassword
        ? '  Local API password: as given'
        : shownPassword !== undefined
          ? `  Local API password: ${shownPassword}`
          : '  Local API password: as set at first start (pass --password to set a new one)',
    );
    const link = device.link;
    if (link) {
      lines.push(
        `  linked to ${link.registration.serverUrl} as device ${link.registration.id} of server user ${link.registration.login}`,
      );
      if (link.createdPassword) lines.push(`  server user password (3rdparty API): ${link.createdPassword}`);
    }
    console.log(lines.join('\n'));
    printReady({
      url: device.url,
      deviceId: device.deviceId,
      username: device.username,
      ...(shownPassword !== undefined ? { password: shownPassword } : {}),
      ...(link
        ? {
            server: {
              url: link.registration.serverUrl,
              deviceId: link.registration.id,
              login: link.registration.login,
              password: link.createdPassword,
            },
          }
        : {}),
    });

    // the dispatcher's own grace for attempts in flight is 10 s
    stopOnSignals(() => device.stop(), 'finishing attempts in flight, then stopping');
  },
};
export default command;

function simCardsFrom(spec: string): VirtualSimCard[] {
  const cards = parseSimCards(spec);
  if (typeof cards === 'string') throw new UsageError(cards);
  return cards;
}
