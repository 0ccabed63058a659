import { createApp, trustProxyOption, type App } from '../shared/http.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { randomSecret } from '../shared/ids.ts';
import { LoginThrottle, type LoginThrottleOptions } from '../shared/login-throttle.ts';
import { parseStoreSpec, type ServerStore } from './store/store.ts';
import { openStore } from './store/open.ts';
import type { PushHub } from './push/hub.ts';
import { CachedWebhooksRepository } from './webhooks/cache.ts';
import type { ServerContext } from './context.ts';
import { UsersService } from './users/service.ts';
import { DevicesService } from './devices/service.ts';
import { MessagesService } from './messages/service.ts';
import { WebhooksService } from './webhooks/service.ts';
import { SettingsService } from './settings/service.ts';
import { HealthService } from './health/service.ts';
import { healthRoutes } from './health/routes.ts';
import { thirdPartyApi } from './api/3rdparty.ts';
import { mobileApi } from './api/mobile.ts';
import { declareRequestSlots } from './api/auth.ts';
import { serverAppOptions, ServerObservability } from './observability.ts';
import { installSite } from './api/site.ts';
import { DeliveriesService } from './deliveries/service.ts';
import type { Logger } from '../shared/logger.ts';
import { AccessTokens, newTokenSecret } from '../shared/access-tokens.ts';
import { OpenStreams } from './push/open-streams.ts';
import { PushRelay, RelayingPushHub, type PushTargets } from './push/relay.ts';
import { createLogger } from '../shared/logger.ts';
import { ServerRetentionPurger } from './retention.ts';

export interface ServerOptions {
  /** where server.db lives when neither `db` nor `store` is given (default ./data) */
  dataDir?: string;
  /** `sqlite:PATH`, `sqlite::memory:` or `postgres://…` */
  db?: string;
  /** an already open store (it is closed with the server) */
  store?: ServerStore;
  /** how push events reach devices (default: the store's: in this process for SQLite, across nodes for PostgreSQL) */
  hub?: PushHub;
  host?: string;
  /** 0 picks a free port (default 3000) */
  port?: number;
  /** open device registration (Cloud mode); signing keys cannot be set */
  public?: boolean;
  /** private mode: the token device registration requires; default: generated once and kept in the database */
  privateToken?: string;
  /** accept http:// webhook URLs to any host, not only loopback */
  insecureHttp?: boolean;
  clock?: Clock;
  /**
   * Keep a message's content and numbers after it is final; by default the server keeps only their
   * hashes from then on (isHashed, docs/messages.md)
   */
  keepMessageContent?: boolean;
  /** keep-alive comment interval of SSE streams (default 15000) */
  keepAliveMs?: number;
  /** how long a verified Basic-auth login is remembered (default 30000) */
  authCacheMs?: number;
  /** failed logins allowed per login and client address before 429 + Retry-After (default 20 per 60 s) */
  loginThrottle?: LoginThrottleOptions;
  /**
   * Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed: the client's address,
   * for the login throttle and the logs, is then the last one in that header that is not one of
   * them. Off by default: without a proxy in front, anyone could write that header. See
   * docs/security.md.
   */
  trustProxy?: string[];
  /** structured log (default: pino on stderr, level from SMSGATE_LOG_LEVEL) */
  logger?: Logger;
  /** serve HTTPS with this certificate and key (PEM; e.g. from `smsgate ca issue`) instead of HTTP */
  https?: { key: string; cert: string };
  /**
   * Wake phones that registered a push token (the Android app with Google services) through this
   * push relay: `url` is its base (pushes go to `${url}/push`; default `DEFAULT_PUSH_RELAY_URL`).
   * Off when not given: such phones then pick up messages on their periodic sync, or hold the event
   * stream when their user sets `gateway.notification_channel` to `SSE_ONLY`. See README "Real phones".
   */
  pushRelay?: { url?: string; retryDelayMs?: number };
}

export interface RunningServer {
  app: App;
  /** e.g. http://127.0.0.1:3000 (https:// when served with `https`) */
  url: string;
  /** `${url}/3rdparty/v1` */
  thirdPartyUrl: string;
  /** `${url}/mobile/v1` */
  mobileUrl: string;
  mode: 'private' | 'public';
  /** private mode: the token devices register with */
  privateToken: string | undefined;
  /** whether privateToken came from the database (generated) rather than the options */
  privateTokenGenerated: boolean;
  context: ServerContext;
  close(): Promise<void>;
}

const PRIVATE_TOKEN_KEY = 'private_token';
/** What to do instead of an unusable private token. */
/**
 * Connections the kernel may hold for the server before it accepts them. A push to a user's devices
 * brings them all back at once, each pull on a new connection, and so does a restart: with Node's
 * 511, 10,000 devices on two nodes overflowed it while the node was busy writing the push, and the
 * pulls that were dropped waited for the client's 10 s connect timeout. The kernel caps it at
 * net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 8192;

export const PRIVATE_TOKEN_ADVICE =
  'give a long random one (e.g. the output of `openssl rand -base64 24`), or leave it out to have one generated, kept in the database and printed';
/** The key access tokens are signed with (HS256): made at first start, shared by every node; docs/security.md says how to rotate it. */
export const TOKEN_SECRET_KEY = 'jwt_secret';

/** Build and start the server (3rdparty + mobile APIs) on one port. */
export async function createServer(options: ServerOptions = {}): Promise<RunningServer> {
  if (options.public && options.privateToken !== undefined) {
    throw new Error('a public server has no private token: drop --private-token or --public');
  }
  if (options.privateToken !== undefined && options.privateToken.trim() === '') {
    // An empty token would be kept as given, and no device could ever register with it.
    throw new Error(`the private token is empty; ${PRIVATE_TOKEN_ADVICE}`);
  }
  const clock = options.clock ?? systemClock;
  const store = options.store ?? (await openStore(parseStoreSpec(options.db, options.dataDir)));
  let opened: PushHub | undefined;
  try {
    const logger = options.logger ?? createLogger({ name: 'server' });
    // The store's own hub reaches every node sharing it (LISTEN/NOTIFY on PostgreSQL).
    const storeHub = (opened = options.hub ?? (await store.openPushHub()));
    const hub = options.pushRelay ? relayingHub(storeHub, store, options.pushRelay, clock, logger) : storeHub;
    opened = hub;
    const publicMode = options.public === true;
    let privateToken = options.privateToken;
    const privateTokenGenerated = !publicMode && privateToken === undefined;
    if (privateTokenGenerated) {
      // Generated once and kept, so devices registered earlier keep working and every node agrees.
      privateToken = await store.meta.setMetaIfAbsent(PRIVATE_TOKEN_KEY, randomSecret(24));
    }

    const tokenSecret = await store.meta.setMetaIfAbsent(TOKEN_SECRET_KEY, newTokenSecret());

    // Credentials that stop counting on one node stop on all of them at once: remembered logins
    // are forgotten and the streams they opened end (the hub reaches every node, this one included).
    const users = new UsersService(store.users, clock, options.authCacheMs, (userId) =>
      hub.publishRevocation({ kind: 'password', userId }),
    );
    const openStreams = new OpenStreams();
    hub.onRevocation((notice) => {
      if (notice.kind === 'password') users.forgetVerifiedLogins();
      openStreams.revoke(notice);
    });
    // News from other nodes may have been missed (their LISTEN connection was lost): a password may have changed.
    hub.watch({ userEvent() {}, gap: () => users.forgetVerifiedLogins() });
    const tokens = new AccessTokens(store.tokens, tokenSecret, clock, (userId, familyId) =>
      hub.publishRevocation({ kind: 'tokens', userId, familyId }),
    );
    // Webhook lists are kept in memory; on a store other nodes share, the hub tells this node of their writes.
    const webhooksRepo = new CachedWebhooksRepository(store.webhooks, hub, clock, store.kind !== 'sqlite');
    const devices = new DevicesService(store.devices, webhooksRepo, clock, (device) =>
      hub.publishRevocation({ kind: 'device', userId: device.userId, deviceId: device.id }),
    );
    const observability = new ServerObservability(() => store.devices.queueDepthTotals());
    const context: ServerContext = {
      store,
      hub,
      clock,
      publicMode,
      privateToken: publicMode ? undefined : privateToken,
      keepAliveMs: options.keepAliveMs ?? 15_000,
      loginThrottle: new LoginThrottle(clock, options.loginThrottle),
      users,
      devices,
      tokens,
      openStreams,
      messages: new MessagesService(store.messages, devices, hub, clock, {
        keepContent: options.keepMessageContent,
      }),
      webhooks: new WebhooksService(webhooksRepo, store.devices, hub, clock, {
        insecureHttp: options.insecureHttp === true,
      }),
      settings: new SettingsService(store.settings, hub, clock, { publicMode }),
      health: new HealthService(store.health, undefined, () => hub.health?.() ?? {}),
      deliveries: new DeliveriesService({
        repo: store.deliveries,
        devices: store.devices,
        hub,
        clock,
        onNewAttempts: (attempts) => observability.recordReportedAttempts(attempts),
      }),
      observability,
    };

    const app = createApp({
      ...serverAppOptions(logger),
      ...trustProxyOption(options.trustProxy),
      ...(options.https ? { https: options.https } : {}),
    });
    declareRequestSlots(app);
    // OpenAPI, metrics, request log and dashboard first: the document generator must see every route.
    installSite(app, context);
    app.register(async (api) => healthRoutes(api, context));
    thirdPartyApi(app, context, observability.liveStreams);
    mobileApi(app, context, observability.deviceStreams);
    // Open event streams would keep close() waiting forever; end them first.
    app.addHook('preClose', async () => {
      for (const streams of [observability.deviceStreams, observability.liveStreams]) {
        for (const res of streams) res.end();
        streams.clear();
      }
    });

    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 3000, backlog: LISTEN_BACKLOG });
    const retention = new ServerRetentionPurger({
      store,
      clock,
      onError: (error) => logger.error({ err: error }, 'the retention purge failed; it runs again in a minute'),
    });
    retention.start();
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('the server did not bind a TCP port');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${options.https ? 'https' : 'http'}://${host}:${address.port}`;

    let closing: Promise<void> | undefined;
    return {
      app,
      url,
      thirdPartyUrl: `${url}/3rdparty/v1`,
      mobileUrl: `${url}/mobile/v1`,
      mode: publicMode ? 'public' : 'private',
      privateToken: context.privateToken,
      privateTokenGenerated,
      context,
      close: () =>
        (closing ??= (async () => {
          await app.close();
          await retention.stop();
          await hub.close();
          await store.close();
        })()),
    };
  } catch (error) {
    await opened?.close();
    await store.close();
    throw error;
  }
}

/** The store's hub, also waking phones with a push token through the relay. */
function relayingHub(
  hub: PushHub,
  store: ServerStore,
  options: NonNullable<ServerOptions['pushRelay']>,
  clock: Clock,
  logger: Logger,
): RelayingPushHub {
  const targets: PushTargets = {
    device: (deviceId) => store.devices.getPushTarget(deviceId),
    userTokens: async (userId) =>
      (await store.devices.listUserDevices(userId)).flatMap((d) => (d.pushToken ? [d.pushToken] : [])),
    sseOnly: async (userId) =>
      (await store.settings.getUserSettings(userId)).gateway?.notification_channel === 'SSE_ONLY',
  };
  const relay = new PushRelay({ url: options.url, retryDelayMs: options.retryDelayMs, clock, logger });
  return new RelayingPushHub(hub, relay, targets, logger);
}
