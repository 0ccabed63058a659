import { Agent, type Dispatcher } from 'undici';
import { trustingConnect } from '../../shared/trusted-ca.ts';
import { sign, unixSeconds } from '../../protocol/index.ts';
import type { AttemptResult, ClaimedDelivery } from '../store/outbox.ts';
import type { Clock } from '../../shared/clock.ts';
import { requireWebhookTarget } from './webhook-target.ts';

/** How much of a response body is read at most; the rest is never pulled off the socket. */
export const RESPONSE_READ_LIMIT = 64 * 1024;
/** How much of what was read is kept in the attempt log. */
export const RESPONSE_PREVIEW_CHARS = 1024;

export interface HttpSenderOptions {
  clock: Clock;
  userAgent: string;
  /** total time allowed for one attempt (connect, send, status), in ms */
  timeoutMs: () => number;
  /** extra PEM certificates to trust on top of the bundled roots (a private CA) */
  extraCa?: string[];
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** Turn whatever undici or the socket threw into one line that says what went wrong. */
export function describeSendError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timeout: no response within ${Math.round(timeoutMs)} ms`;
  const err = error as {
    code?: string;
    name?: string;
    message?: string;
    cause?: { code?: string; name?: string; message?: string };
  };
  const code = err?.code ?? err?.cause?.code;
  if (err?.name === 'HTTPParserError' || err?.cause?.name === 'HTTPParserError') {
    return `invalid HTTP response: ${err.cause?.message ?? err.message}`;
  }
  const message = err?.cause?.message ?? err?.message ?? String(error);
  if (code && TLS_TRUST_CODES.has(code)) {
    // Node 24 appends advice about its --use-system-ca flag; a device's remedy is --ca, and its log
    // reads the same on every Node.
    const reason = message.replace(
      /; if the root CA is installed locally, try running Node\.js with --use-system-ca$/,
      '',
    );
    return `TLS: certificate not trusted (${code}): ${reason}`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: certificate does not match the host (${code}): ${message}`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS: certificate expired (${code})`;
  if (code === 'ECONNREFUSED') return `connection refused: ${message}`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection reset: ${message}`;
  if (code?.startsWith('HPE_')) return `invalid HTTP response: ${message}`;
  return code ? `${code}: ${message}` : message;
}

/** What one attempt ends with, before it becomes an AttemptResult. */
interface Outcome {
  status: number | null;
  location: string | undefined;
  preview: string | null;
  error: unknown;
}

/**
 * One attempt as an undici dispatch handler: no response stream, no AbortController, no timer of
 * its own. It keeps at most RESPONSE_READ_LIMIT bytes of the answer and then cuts the connection,
 * so the rest is never pulled off the socket.
 */
class Attempt implements Dispatcher.DispatchHandler {
  status: number | null = null;
  private location: string | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  timedOut = false;

  constructor(
    readonly deadline: number,
    private readonly settle: (outcome: Outcome) => void,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('attempt already over'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return; // 1xx informational: the real answer follows
    this.status = statusCode;
    const location = headers.location;
    this.location = Array.isArray(location) ? location[0] : location;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return; // past the read limit or the deadline: nothing more is kept
    const room = RESPONSE_READ_LIMIT - this.size;
    this.chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    this.size += Math.min(chunk.length, room);
    if (this.size >= RESPONSE_READ_LIMIT) {
      this.finish(null);
      controller.abort(new Error('response read limit reached'));
    }
  }

  onResponseEnd(): void {
    this.finish(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.finish(error);
  }

  /** The deadline passed: end the attempt now, and cut the connection if there is one yet. */
  expire(): void {
    this.timedOut = true;
    this.finish(new Error('deadline'));
    this.controller?.abort(new Error('attempt deadline'));
  }

  private finish(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const preview =
      error === null && this.chunks.length > 0
        ? Buffer.concat(this.chunks).toString('utf8').slice(0, RESPONSE_PREVIEW_CHARS)
        : error === null
          ? ''
          : null;
    this.settle({ status: this.status, location: this.location, preview, error });
  }
}

/**
 * Makes one signed POST for a claimed delivery and reports what happened. Never throws:
 * every outcome, including a crash of the peer, is an AttemptResult.
 *
 * Deadlines: attempts start in order and share one timeout, so they also expire in order. One
 * timer, armed for the oldest attempt still running, serves them all.
 */
export class HttpSender {
  private readonly agent: Agent;
  /** attempts still running, oldest first */
  private readonly running = new Set<Attempt>();
  private deadlineTimer: unknown = null;

  constructor(private readonly options: HttpSenderOptions) {
    this.agent = new Agent({
      keepAliveTimeout: 10_000,
      // our own deadline governs; undici's per-phase timers stay out of the way
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: trustingConnect(options.extraCa),
    });
  }

  send(delivery: ClaimedDelivery, signingKey: string): Promise<AttemptResult> {
    const { clock } = this.options;
    const startedAt = clock.now();
    const timeoutMs = this.options.timeoutMs();
    const timestamp = String(unixSeconds(startedAt));
    return new Promise<AttemptResult>((resolve) => {
      const attempt = new Attempt(startedAt + timeoutMs, (outcome) => {
        this.running.delete(attempt);
        resolve(this.toResult(delivery, startedAt, timeoutMs, attempt.timedOut, outcome));
      });
      this.running.add(attempt);
      if (this.deadlineTimer === null) this.armDeadline();
      try {
        const { origin, path } = requireWebhookTarget(delivery.url);
        this.agent.dispatch(
          {
            origin,
            path,
            method: 'POST',
            headers: [
              'content-type',
              'application/json',
              'user-agent',
              this.options.userAgent,
              'x-timestamp',
              timestamp,
              'x-signature',
              sign(signingKey, delivery.body, timestamp),
            ],
            body: delivery.body,
          },
          attempt,
        );
      } catch (error) {
        attempt.onResponseError(undefined as never, error as Error);
      }
    });
  }

  private toResult(
    delivery: ClaimedDelivery,
    startedAt: number,
    timeoutMs: number,
    timedOut: boolean,
    outcome: Outcome,
  ): AttemptResult {
    const durationMs = this.options.clock.now() - startedAt;
    const { status } = outcome;
    // A 2xx that arrived in time counts even if its body then stalls or breaks.
    const ok = status !== null && status >= 200 && status < 300;
    if (outcome.error !== null) {
      return {
        delivery,
        startedAt,
        durationMs,
        ok,
        status,
        error: ok ? null : describeSendError(outcome.error, timedOut, timeoutMs),
        responsePreview: null,
      };
    }
    let error: string | null = null;
    if (!ok) {
      error =
        status !== null && status >= 300 && status < 400
          ? `redirect ${status}${outcome.location ? ` to ${outcome.location}` : ''} not followed`
          : `HTTP ${status}`;
    }
    return { delivery, startedAt, durationMs, ok, status, error, responsePreview: outcome.preview };
  }

  /** Expire every attempt past its deadline, then wait for the oldest one left. */
  private armDeadline(): void {
    const { clock } = this.options;
    this.deadlineTimer = null;
    const now = clock.now();
    for (const attempt of this.running) {
      if (attempt.deadline > now) {
        this.deadlineTimer = clock.setTimeout(() => this.armDeadline(), attempt.deadline - now);
        return;
      }
      attempt.expire(); // removes itself from `running`
    }
  }

  async close(): Promise<void> {
    if (this.deadlineTimer !== null) this.options.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    await this.agent.destroy();
  }
}
