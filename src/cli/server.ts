import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from './command.ts';
import { intOpt, listenOptions, listOpt, printReady, stopOnSignals, stringOpt, UsageError } from './command.ts';
import { createServer, PRIVATE_TOKEN_ADVICE } from '../server/server.ts';
import { databaseUrlFromEnv } from '../server/store/store.ts';
import { DEFAULT_PUSH_RELAY_URL } from '../server/push/relay.ts';

const command: Command = {
  name: 'server',
  summary: 'Run the Private/Cloud server: the 3rdparty API for integrators and the mobile API for devices.',
  options: {
    'data-dir': { type: 'string', description: 'where server.db lives (when --db is not given)', default: './data' },
    ...listenOptions('port to listen on', '3000'),
    db: {
      type: 'string',
      description:
        'database: sqlite:PATH (default <data-dir>/server.db) or postgres://… (several nodes may share one; also read from DATABASE_URL)',
    },
    'private-token': {
      type: 'string',
      description: 'token devices register with (default: generated once, kept in the database, printed)',
      secret: 'chosen',
    },
    public: {
      type: 'boolean',
      description: 'public (Cloud) mode: anyone may register a device; signing keys cannot be set',
    },
    'insecure-http': {
      type: 'boolean',
      description: 'accept http:// webhook URLs to any host, not only loopback (LAN testing)',
    },
    'trust-proxy': {
      type: 'string',
      description:
        'comma-separated addresses or CIDR ranges of proxies in front whose X-Forwarded-For is believed (default: none; see docs/security.md)',
    },
    'tls-cert': {
      type: 'string',
      description:
        'serve HTTPS with this certificate (PEM; e.g. from `smsgate ca issue`); phones need HTTPS off loopback',
    },
    'tls-key': { type: 'string', description: 'the key of --tls-cert (PEM)' },
    'keep-message-content': {
      type: 'boolean',
      description:
        'keep the text and phone numbers of finished messages; by default only their hashes are kept (docs/messages.md)',
    },
    'push-relay': {
      type: 'boolean',
      description: `wake phones that registered a push token (the Android app with Google services) through the push relay at --push-relay-url (default ${DEFAULT_PUSH_RELAY_URL}); see README "Real phones"`,
    },
    'push-relay-url': {
      type: 'string',
      description: 'base URL of the push relay (pushes go to <url>/push); implies --push-relay',
    },
  },
  async run(args) {
    const isPublic = args.values.public === true;
    const privateToken = stringOpt(args, 'private-token');
    if (privateToken !== undefined && privateToken.trim() === '')
      throw new UsageError(`--private-token is empty; ${PRIVATE_TOKEN_ADVICE}`);
    if (isPublic && privateToken !== undefined)
      throw new UsageError('--public and --private-token exclude each other: a public server has no private token');
    const certFile = stringOpt(args, 'tls-cert');
    const keyFile = stringOpt(args, 'tls-key');
    if (Boolean(certFile) !== Boolean(keyFile))
      throw new UsageError(
        '--tls-cert and --tls-key go together; make both with `smsgate ca init` then `smsgate ca issue <address>`',
      );
    const relayUrl = stringOpt(args, 'push-relay-url');
    if (relayUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(relayUrl))
      throw new UsageError(`--push-relay-url must be an http:// or https:// URL, got "${relayUrl}"`);
    const pushRelay = args.values['push-relay'] === true || relayUrl !== undefined ? { url: relayUrl } : undefined;
    const port = intOpt(args, 'port')!;
    if (port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, got ${port}`);
    const server = await createServer({
      dataDir: resolve(stringOpt(args, 'data-dir')!),
      db: stringOpt(args, 'db') ?? databaseUrlFromEnv(),
      host: stringOpt(args, 'host'),
      port,
      public: isPublic,
      privateToken,
      insecureHttp: args.values['insecure-http'] === true,
      keepMessageContent: args.values['keep-message-content'] === true,
      trustProxy: listOpt(args, 'trust-proxy'),
      pushRelay,
      https:
        certFile && keyFile ? { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') } : undefined,
    });
    const { store } = server.context;
    const lines = [
      `smsgate server (${server.mode} mode) listening on ${server.url}`,
      `  3rdparty API: ${server.thirdPartyUrl}   (Basic auth: a user's login and password)`,
      `  mobile API:   ${server.mobileUrl}`,
      `  storage:      ${store.kind} ${store.location}`,
    ];
    if (pushRelay)
      lines.push(
        `  push relay:   ${pushRelay.url ?? DEFAULT_PUSH_RELAY_URL} (phones with a push token are woken through it)`,
      );
    if (server.mode === 'private') {
      lines.push(
        server.privateTokenGenerated
          ? `  private token (devices register with it): ${server.privateToken}`
          : '  private token: as given with --private-token',
      );
    }
    console.log(lines.join('\n'));
    printReady({
      url: server.url,
      thirdPartyUrl: server.thirdPartyUrl,
      mobileUrl: server.mobileUrl,
      mode: server.mode,
      ...(server.privateTokenGenerated ? { privateToken: server.privateToken } : {}),
    });

    stopOnSignals(() => server.close(), 'closing connections, then stopping');
  },
};
export default command;
