import { join } from 'node:path';
import { openDatabase } from './store/database.ts';
import { DeviceTokenStore } from './store/tokens.ts';
import { Outbox } from './store/outbox.ts';
import { DataDirLock } from './store/data-dir-lock.ts';
import { DiskSpaceGuard } from './store/disk-space.ts';
import { RetentionPurger } from './store/retention.ts';
import { startBackgroundCheckpoints } from '../shared/sqlite.ts';
import { makePrivateDir } from '../shared/private-files.ts';
import { WebhookStore } from './store/webhooks.ts';
import { MetaStore } from './store/meta.ts';
import { MessageStore } from './store/messages.ts';
import { InboxStore } from './store/inbox.ts';
import { InboxService } from './inbox.ts';
import { InboxReplay } from './inbox-refresh.ts';
import { DeviceSettings } from './settings.ts';
import { DeviceEvents, type DeviceIdentity } from './events.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { HttpSender } from './dispatch/http-sender.ts';
import { ATTEMPT_TIMEOUT_MS, RetryPolicy } from './dispatch/retry-policy.ts';
import { VirtualCarrier, type VirtualSimCard } from './carrier/virtual-carrier.ts';
import { SmsService } from './sms-service.ts';
import { NetworkState } from './network.ts';
import { deviceHealth } from './health.ts';
import { PingScheduler } from './ping.ts';
import { LocalCredentials } from './api/auth.ts';
import { createLocalApi } from './api/local-api.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { assertTimeZone, systemTimeZone } from './time-format.ts';
import { USER_AGENT } from '../shared/version.ts';
import type { App } from '../shared/http.ts';
import { DeviceLink, type LinkOptions } from './link/link.ts';
import { Agent } from 'undici';
import { trustingConnect } from '../shared/trusted-ca.ts';
import { linkDispatcher } from './link/mobile-client.ts';
import { DeviceLog } from './store/logs.ts';
import { recordDeviceActivity } from './activity-log.ts';
import type { LoginThrottleOptions } from '../shared/login-throttle.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import { DeviceObservability } from './observability.ts';
import type { DeviceContext } from './context.ts';

export interface DeviceOptions {
  /** where device.db lives */
  dataDir: string;
  host?: string;
  /** 0 picks a free port */
  port?: number;
  username?: string;
  /** fixed Local API password; otherwise one is generated at first start and kept (hashed) */
  password?: string;
  /** IANA zone for payload timestamps (default: the system's) */
  timeZone?: string;
  /** multiplies retry delays and the attempt timeout (SMSGATE_TIME_SCALE) */
  timeScale?: number;
  simCount?: number;
  /** the SIM cards, slot by slot (numbers and carriers); default `simCount` cards with made-up numbers */
  sims?: VirtualSimCard[];
  /** accept http:// webhook URLs to any host, not only loopback */
  insecureHttp?: boolean;
  /** PEM certificates trusted on top of the bundled roots (a private CA): for deliveries, and for the linked server */
  extraCa?: string[];
  /** serve the Local API over HTTPS */
  https?: { key: string; cert: string };
  clock?: Clock;
  /** attempts in flight at once */
  concurrency?: number;
  /** attempts in flight at once to one receiver origin; default half of `concurrency` */
  perReceiverLimit?: number;
  carrierDelays?: { sendDelayMs?: number; reportDelayMs?: number; mmsDownloadDelayMs?: number };
  /** failed Local API logins allowed per login, address and window before 429 (default 20 per minute) */
  loginThrottle?: LoginThrottleOptions;
  /** proxies whose X-Forwarded-For is believed (addresses or CIDR ranges; default none): see docs/security.md */
  trustProxy?: string[];
  /** link to a server (Private/Cloud mode) */
  link?: LinkOptions;
  /** structured log (default: pino on stderr, level from SMSGATE_LOG_LEVEL) */
  logger?: Logger;
}

export interface RunningDevice {
  url: string;
  deviceId: string;
  username: string;
  /** set only when generated or given in this run */
  password: string | undefined;
  context: DeviceContext;
  app: App;
  /** present when linked to a server */
  link: DeviceLink | undefined;
  stop(options?: { graceMs?: number }): Promise<void>;
}

/** Assemble a device from its parts (composition root) and start serving and delivering. */
export async function startDevice(options: DeviceOptions): Promise<RunningDevice> {
  const clock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  const timeZone = options.timeZone ?? systemTimeZone();
  assertTimeZone(timeZone);

  makePrivateDir(options.dataDir);
  const lock = DataDirLock.acquire(options.dataDir);
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(join(options.dataDir, 'device.db'));
  } catch (error) {
    lock.release();
    throw error;
  }
  // An incoming SMS with one webhook writes about 11 WAL pages, so at 1,000 events/s the in-commit
  // backstop checkpoint (its copy and two fsyncs on the event loop, ~5 ms) came every ~0.7 s at
  // 8,000 pages; at 32,000 (a WAL of about 128 MB under sustained writes) it comes every ~3 s, and a
  // worker checkpoint every 25 ms leaves it less to copy. An idle device's worker writes nothing.
  const checkpoints = startBackgroundCheckpoints(db, { intervalMs: 25, walLimitPages: 32_000 });
  const meta = new MetaStore(db);
  const outbox = new Outbox(db);
  const webhooks = new WebhookStore(db, outbox);
  const messageStore = new MessageStore(db);
  const inbox = new InboxStore(db);
  const settings = new DeviceSettings(meta);
  const network = new NetworkState();
  const deviceId = meta.getOrCreate('device_id', newId);
  // Kept in memory: every event reads it.
  let cloudDeviceId = meta.get('cloud_device_id') ?? null;
  const identity: DeviceIdentity = {
    localDeviceId: deviceId,
    cloudDeviceId: () => cloudDeviceId,
    setCloudDeviceId(id) {
      meta.set('cloud_device_id', id);
      cloudDeviceId = id;
    },
  };
  const credentials = await LocalCredentials.load(meta, new DeviceTokenStore(db), clock, {
    username: options.username ?? 'sms',
    password: options.password,
    throttle: options.loginThrottle,
  });

  const sender = new HttpSender({
    clock,
    userAgent: USER_AGENT,
    timeoutMs: () => ATTEMPT_TIMEOUT_MS * timeScale,
    extraCa: options.extraCa,
  });
  const dispatcher = new Dispatcher({
    outbox,
    clock,
    concurrency: options.concurrency,
    perReceiverLimit: options.perReceiverLimit,
    send: (delivery, key) => sender.send(delivery, key),
    signingKey: () => settings.signingKey(),
    retries: new RetryPolicy({ retryCount: () => settings.get().webhooks.retry_count, timeScale }),
    mayDeliver: () => network.isOnline() || !settings.get().webhooks.internet_required,
    onAttempt: (result, outcome) => observability.recordAttempt(result, outcome),
    onRecordFailure: (error) => diskSpace.noticeWriteFailure(error),
  });
  network.onChange(() => dispatcher.wake());
  settings.onChange(() => dispatcher.wake());

  const events = new DeviceEvents({ db, outbox, webhooks, identity, clock, wake: (ready) => dispatcher.offer(ready) });
  const logger = options.logger ?? createLogger({ name: 'device' });
  const observability = new DeviceObservability({ outbox, events, logger });
  const diskSpace = new DiskSpaceGuard({ dataDir: options.dataDir, clock, log: logger });
  diskSpace.start();
  const deviceLog = new DeviceLog(db, clock, (error) => {
    if (!diskSpace.noticeWriteFailure(error)) logger.error({ err: error }, 'the device log could not be written');
  });
  const retention = new RetentionPurger({
    db,
    clock,
    messages: messageStore,
    timeScale,
    log: deviceLog,
    retention: () => {
      const current = settings.get();
      return {
        webhookLog: current.webhooks.log_lifetime_days,
        messages: current.messages.log_lifetime_days,
        logs: current.logs.lifetime_days,
      };
    },
    onError: (error) => {
      if (!diskSpace.noticeWriteFailure(error)) logger.error({ err: error }, 'the retention purge failed');
    },
  });
  const carrier = new VirtualCarrier({
    clock,
    simCount: options.simCount,
    sims: options.sims,
    ...options.carrierDelays,
  });
  const sms = new SmsService({
    db,
    messages: messageStore,
    events,
    carrier,
    settings,
    clock,
    timeZone,
    deviceId: () => deviceId,
    onError: (error) => {
      if (!diskSpace.noticeWriteFailure(error)) logger.error({ err: error }, 'the send queue failed; it tries again');
    },
  });
  const inboxService = new InboxService({ db, inbox, events, carrier, clock, timeZone });
  const inboxReplay = new InboxReplay({ db, inbox, events, timeZone });
  const health = () => deviceHealth({ outbox, messages: messageStore, network, clock, batteryLevel: () => 100 });
  const ping = new PingScheduler(settings, () => events.emit('system:ping', { health: health() }));

  const context: DeviceContext = {
    db,
    meta,
    outbox,
    webhooks,
    settings,
    events,
    dispatcher,
    sms,
    messageStore,
    inbox,
    inboxReplay,
    carrier,
    network,
    identity,
    clock,
    timeZone,
    deviceId,
    insecureHttp: options.insecureHttp ?? false,
    logger,
    observability,
    diskSpace,
    retention,
    log: deviceLog,
    health,
  };
  recordDeviceActivity(context);

  const app = createLocalApi(context, credentials, { https: options.https, trustProxy: options.trustProxy });
  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  } catch (error) {
    await checkpoints.stop();
    db.close();
    lock.release();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host ?? '127.0.0.1';
  const url = `${options.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  dispatcher.start();
  // once per start, before anything else this run emits
  events.emit('app:started', { simCards: [...carrier.simCards] });
  sms.resume();
  inboxService.resume();
  ping.start();
  retention.start();

  let link: DeviceLink | undefined;
  // the CA that webhook deliveries trust is trusted for the server too (a private server's HTTPS)
  const linkAgent =
    options.link && options.extraCa?.length ? new Agent({ connect: trustingConnect(options.extraCa) }) : undefined;
  if (options.link) {
    const linkOptions = options.link;
    const lineLog = linkOptions.log ?? ((line: string) => process.stderr.write(`link: ${line}\n`));
    link = new DeviceLink(context, {
      dispatcher: linkAgent && linkDispatcher(linkAgent),
      ...linkOptions,
      // what the link says goes to the device log too
      log: (line) => {
        lineLog(line);
        deviceLog.write('INFO', 'gateway', line);
      },
    });
    try {
      await link.start();
    } catch (error) {
      await Promise.allSettled([app.close(), dispatcher.stop(0), checkpoints.stop(), linkAgent?.close()]);
      db.close();
      lock.release();
      throw new Error(`cannot link to ${options.link.serverUrl}: ${(error as Error).message}`, { cause: error });
    }
  }

  let stopped = false;
  return {
    url,
    deviceId,
    username: credentials.username,
    password: credentials.password,
    context,
    app,
    link,
    async stop({ graceMs = 10_000 } = {}) {
      if (stopped) return;
      stopped = true;
      ping.stop();
      sms.stop();
      await link?.stop();
      await linkAgent?.close();
      carrier.close();
      diskSpace.stop();
      await retention.stop();
      await app.close();
      deviceLog.close();
      await dispatcher.stop(graceMs);
      await sender.close();
      await checkpoints.stop();
      db.close();
      lock.release();
    },
  };
}
