/**
 * The device's client of the server's mobile API (`/mobile/v1`): registration, pulling messages,
 * reporting their states, fetching webhooks and settings, and holding the Server-Sent Events
 * stream. Self-contained on purpose: it depends on nothing else of the device, so the runtime
 * can wire it however it likes.
 *
 * The push channel mostly says "something changed"; the device pulls the current state (a new
 * message may come with the push itself). Because
 * `onOpen` runs after every (re)connect and the device pulls everything there, a push missed
 * while disconnected never loses a message or a webhook change.
 */

import { Agent, interceptors, request, type Dispatcher } from 'undici';

export type { ProcessState } from '../../protocol/messages.ts';

/**
 * How the link's requests go out through `base` (its connections, e.g. an agent that trusts a
 * private CA): undici's `request`, following redirects as `fetch` would. A pull or a report costs
 * about half the CPU of a `fetch` with a timeout signal, and the link makes a report for every few messages sent.
 */
export function linkDispatcher(base: Dispatcher): Dispatcher {
  return base.compose(interceptors.redirect({ maxRedirections: 5 }));
}

/** The link's requests when none is given: kept-alive connections shared by every client. */
let sharedDispatcher: Dispatcher | undefined;
const defaultDispatcher = () => (sharedDispatcher ??= linkDispatcher(new Agent()));

/** Whether the server took the request (a 2xx). */
const succeeded = (status: number) => status >= 200 && status <= 299;

/** `POST /mobile/v1/device` → 201. `password` only when a new user was created. */
export interface Registration {
  id: string;
  token: string;
  login: string;
  password?: string;
}

export interface RegisterOptions {
  /** private server: the token `smsgate server` printed (creates a new user) */
  privateToken?: string;
  /** attach the device to this existing user instead */
  basicAuth?: { login: string; password: string };
  name?: string;
  pushToken?: string;
  /** how requests go out (default: shared kept-alive connections); e.g. `linkDispatcher` over an agent that trusts a private CA */
  dispatcher?: Dispatcher;
  timeoutMs?: number;
}

export interface MobileDevice {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  lastSeen: string;
}

// The message exchange's wire shapes are defined once, in the protocol.
import type { MessageReport, MobileMessage, PullOrder } from '../../protocol/mobile.ts';
import type { ActivityReport, ActivityReportAnswer, EventName, Health } from '../../protocol/index.ts';
export type { MessageReport, MobileMessage };

export interface MobileWebhook {
  id: string;
  url: string;
  /** a name this device may not know yet (a newer server): such webhooks are skipped */
  event: EventName | (string & {});
  /** null = every device of the user */
  deviceId: string | null;
}

/**
 * The keys the user set through the server, snake_case, explicit nulls included (null =
 * back to the default). Keys not present are the device's own business.
 */
export type MobileSettings = Partial<
  Record<'messages' | 'webhooks' | 'logs' | 'ping' | 'encryption' | 'gateway' | 'receiver', Record<string, unknown>>
>;

/** A frame of the push stream as it arrived; `parsePushEvent` (protocol) turns it into a push this device knows. */
export interface MobileEvent {
  /** the SSE event type: a `PushEventType`, or one a newer server added (ignore it) */
  type: string;
  /** the parsed `data:` JSON (a raw string when it is not JSON) */
  data: unknown;
}

export interface OpenEventsOptions {
  /** after every successful (re)connect: pull everything here */
  onOpen?: () => void | Promise<void>;
  /** a connection failed or ended; the next attempt is in `retryInMs` */
  onError?: (error: Error, info: { attempt: number; retryInMs: number }) => void;
  /** first reconnect delay (default 500 ms); doubles per failed attempt */
  minDelayMs?: number;
  /** cap of the reconnect delay (default 30 s) */
  maxDelayMs?: number;
  /** reconnect when nothing (not even a keep-alive) arrives for this long (default 45 s; the server sends one every 15 s) */
  idleTimeoutMs?: number;
  /** 0 ≤ x < 1; for deterministic jitter in tests */
  random?: () => number;
}

export interface EventStream {
  /** stop for good (no more reconnects); resolves when the loop has ended */
  close(): Promise<void>;
  /** cut the current connection as a network failure would; the stream reconnects by itself */
  dropConnection(): void;
  /** whether a stream is open right now */
  readonly connected: boolean;
  /** how many times a connection was opened so far */
  readonly opens: number;
}

/**
 * What a refused call means for the device, from the server's status: `unauthorized`,
 * `forbidden` and `not-found` are about the device's registration; `rejected`: the request as
 * sent will never be accepted (400, 409, 413, …), so sending it again is pointless; `retry-later`:
 * the server could not take it now (408, 429, 5xx).
 */
export type MobileFailureKind = 'unauthorized' | 'forbidden' | 'not-found' | 'rejected' | 'retry-later';

export function failureKindOf(status: number): MobileFailureKind {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 408 || status === 429 || status >= 500) return 'retry-later';
  return 'rejected';
}

/** The server answered with an error status; `kind` says what the device should make of it. */
export class MobileApiError extends Error {
  readonly kind: MobileFailureKind;

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'MobileApiError';
    this.kind = failureKindOf(status);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** `http://host:3000` and `http://host:3000/mobile/v1/` both become `http://host:3000/mobile/v1`. */
export function mobileBaseUrl(serverUrl: string): string {
  const trimmed = serverUrl.replace(/\/+$/, '');
  return /\/mobile\/v1$/.test(trimmed) ? trimmed : `${trimmed}/mobile/v1`;
}

/** Register a device: with the private token (new user), a user's Basic auth (that user), or neither (public server). */
export async function register(serverUrl: string, options: RegisterOptions = {}): Promise<Registration> {
  const headers: Record<string, string> = {};
  if (options.basicAuth) {
    headers.authorization =
      'Basic ' + Buffer.from(`${options.basicAuth.login}:${options.basicAuth.password}`).toString('base64');
  } else if (options.privateToken !== undefined) {
    headers.authorization = `Bearer ${options.privateToken}`;
  }
  const body: Record<string, string> = {};
  if (options.name !== undefined) body.name = options.name;
  if (options.pushToken !== undefined) body.pushToken = options.pushToken;
  return (await call(
    options.dispatcher ?? defaultDispatcher(),
    mobileBaseUrl(serverUrl),
    'POST',
    '/device',
    headers,
    body,
    options.timeoutMs,
  )) as Registration;
}

export class MobileClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(
    serverUrl: string,
    private readonly token: string,
    options: { dispatcher?: Dispatcher; timeoutMs?: number } = {},
  ) {
    this.baseUrl = mobileBaseUrl(serverUrl);
    this.dispatcher = options.dispatcher ?? defaultDispatcher();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    return call(
      this.dispatcher,
      this.baseUrl,
      method,
      path,
      { authorization: `Bearer ${this.token}` },
      body,
      this.timeoutMs,
    );
  }

  /**
   * this device as the server knows it, and the address the server sees it from. The server
   * answers an unknown token with the address alone (as the original does, for apps that have not
   * registered yet): for this client that is a 401.
   */
  async getDevice(): Promise<{ device: MobileDevice; externalIp: string }> {
    const reply = (await this.request('GET', '/device')) as { device?: MobileDevice; externalIp: string };
    if (!reply.device) throw new MobileApiError(401, 'GET /device: the server does not know this device token');
    return { device: reply.device, externalIp: reply.externalIp };
  }

  /** messages waiting for this device, highest priority then oldest first (at most 100; pull again after reporting for more) */
  async pullMessages(order: PullOrder = 'fifo'): Promise<MobileMessage[]> {
    return (await this.request('GET', `/message?order=${order}`)) as MobileMessage[];
  }

  async reportMessages(reports: MessageReport[]): Promise<void> {
    if (reports.length === 0) return;
    await this.request('PATCH', '/message', reports);
  }

  /** the whole Cloud list for this device (replace the local Cloud list with it) */
  async getWebhooks(): Promise<MobileWebhook[]> {
    return (await this.request('GET', '/webhooks')) as MobileWebhook[];
  }

  async getSettings(): Promise<MobileSettings> {
    return (await this.request('GET', '/settings')) as MobileSettings;
  }

  /** tell the server the device is alive (its lastSeen) */
  async ping(): Promise<void> {
    await this.request('POST', '/device/ping');
  }

  /** send this device's health document; the server shows it (queue depth included) with the device */
  async reportHealth(health: Health): Promise<void> {
    await this.request('PUT', '/device/health', health);
  }

  /** report webhook activity (events, changed deliveries with their latest attempts, the Local webhook list) */
  async reportActivity(report: ActivityReport): Promise<ActivityReportAnswer | undefined> {
    // 204 when every item was taken; 200 names the items the server left out
    return (await this.request('POST', '/device/activity', report)) as ActivityReportAnswer | undefined;
  }

  async updatePushToken(pushToken: string | null): Promise<void> {
    await this.request('PATCH', '/device', { pushToken });
  }

  /**
   * Hold `GET /events` open: parse its frames into `onEvent`, reconnect with capped, jittered
   * exponential backoff, and call `onOpen` after every successful (re)connect.
   */
  openEvents(onEvent: (event: MobileEvent) => void, options: OpenEventsOptions = {}): EventStream {
    return new SseConnection(this.dispatcher, `${this.baseUrl}/events`, this.token, onEvent, options);
  }
}

async function call(
  dispatcher: Dispatcher,
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<unknown> {
  let status: number;
  let text: string;
  try {
    const response = await request(baseUrl + path, {
      dispatcher,
      method: method as Dispatcher.HttpMethod,
      headers: {
        accept: 'application/json',
        ...headers,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // no answer within the time, or an answer that stops coming for as long
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    text = await response.body.text();
  } catch (error) {
    throw new Error(
      `${method} ${baseUrl}${path} failed: ${describeFailure(error)}; is the server running and reachable?`,
      { cause: error },
    );
  }
  if (!succeeded(status)) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new MobileApiError(status, `${method} ${path}: ${status} ${message}`);
  }
  return text ? JSON.parse(text) : undefined;
}

/** A failed request's reason, with its cause's when it has one (a TLS or socket error). */
function describeFailure(error: unknown): string {
  const message = (error as Error).message;
  const cause = (error as Error).cause as Error | undefined;
  return cause?.message && !message.includes(cause.message) ? `${message} (${cause.message})` : message;
}

class SseConnection implements EventStream {
  connected = false;
  opens = 0;
  private closed = false;
  private current: AbortController | undefined;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly url: string,
    private readonly token: string,
    private readonly onEvent: (event: MobileEvent) => void,
    private readonly options: OpenEventsOptions,
  ) {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current?.abort(new Error('closed'));
    this.wake?.();
    await this.loop;
  }

  dropConnection(): void {
    this.current?.abort(new Error('connection dropped on purpose'));
  }

  private retryDelay(attempt: number): number {
    const min = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
    // "equal jitter": between half and all of the ceiling, so reconnecting devices spread out
    return Math.round(ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2));
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      const controller = new AbortController();
      this.current = controller;
      try {
        const response = await request(this.url, {
          dispatcher: this.dispatcher,
          headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
          signal: controller.signal,
          // a stream is quiet between pushes: the idle timeout below watches it instead
          bodyTimeout: 0,
        });
        if (!succeeded(response.statusCode)) {
          const text = await response.body.text().catch(() => '');
          let message = text.slice(0, 300);
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? message;
          } catch {
            // keep text
          }
          throw new MobileApiError(response.statusCode, `GET /events: ${response.statusCode} ${message}`);
        }
        attempt = 0;
        this.connected = true;
        this.opens++;
        // Frames are read while onOpen pulls: an event during the pull must not be lost.
        const reading = this.read(response.body, controller);
        reading.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
        try {
          await this.options.onOpen?.();
        } catch (error) {
          this.options.onError?.(error as Error, { attempt: 0, retryInMs: 0 });
        }
        await reading;
        if (!this.closed) throw new Error('the server ended the event stream');
      } catch (error) {
        this.connected = false;
        if (this.closed) break;
        const retryInMs = this.retryDelay(attempt++);
        const reason =
          controller.signal.aborted && controller.signal.reason instanceof Error
            ? controller.signal.reason
            : (error as Error);
        this.options.onError?.(reason, { attempt, retryInMs });
        await this.sleep(retryInMs);
      }
    }
    this.connected = false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Parse the stream (WHATWG event-stream rules) until it ends or is aborted. */
  private async read(body: AsyncIterable<Uint8Array>, controller: AbortController): Promise<void> {
    const idleMs = this.options.idleTimeoutMs ?? 45_000;
    let idle = setTimeout(() => controller.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    const decoder = new TextDecoder();
    let buffer = '';
    let afterCR = false;
    let eventType = '';
    let data: string[] = [];
    try {
      for await (const chunk of body) {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
        let text = decoder.decode(chunk, { stream: true });
        // a \r that ended the previous chunk already ended its line; a \n right after it belongs to it
        if (afterCR && text.startsWith('\n')) text = text.slice(1);
        afterCR = false;
        buffer += text;
        let newline: RegExpExecArray | null;
        while ((newline = /\r\n|\r|\n/.exec(buffer))) {
          if (newline[0] === '\r' && newline.index === buffer.length - 1) afterCR = true;
          const line = buffer.slice(0, newline.index);
          buffer = buffer.slice(newline.index + newline[0].length);
          if (line === '') {
            if (data.length > 0) this.dispatch(eventType || 'message', data.join('\n'));
            eventType = '';
            data = [];
            continue;
          }
          if (line.startsWith(':')) continue; // comment (keep-alive)
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'event') eventType = value;
          else if (field === 'data') data.push(value);
        }
      }
    } finally {
      clearTimeout(idle);
    }
  }

  private dispatch(type: string, raw: string): void {
    let data: unknown = raw;
    try {
      data = JSON.parse(raw);
    } catch {
      // not JSON: hand over the text
    }
    try {
      this.onEvent({ type, data });
    } catch (error) {
      this.options.onError?.(error as Error, { attempt: 0, retryInMs: 0 });
    }
  }
}
