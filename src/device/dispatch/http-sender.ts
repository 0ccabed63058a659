import { Agent, request } from 'undici';
import { rootCertificates } from 'node:tls';
import { sign, unixSeconds } from '../../protocol/index.ts';
import type { AttemptResult, ClaimedDelivery } from '../store/outbox.ts';
import type { Clock } from '../../shared/clock.ts';

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
  const err = error as { code?: string; name?: string; message?: string; cause?: { code?: string; name?: string; message?: string } };
  const code = err?.code ?? err?.cause?.code;
  if (err?.name === 'HTTPParserError' || err?.cause?.name === 'HTTPParserError') {
    return `invalid HTTP response: ${err.cause?.message ?? err.message}`;
  }
  const message = err?.cause?.message ?? err?.message ?? String(error);
  if (code && TLS_TRUST_CODES.has(code)) return `TLS: certificate not trusted (${code}): ${message}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: certificate does not match the host (${code}): ${message}`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS: certificate expired (${code})`;
  if (code === 'ECONNREFUSED') return `connection refused: ${message}`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection reset: ${message}`;
  if (code?.startsWith('HPE_')) return `invalid HTTP response: ${message}`;
  return code ? `${code}: ${message}` : message;
}

/**
 * Makes one signed POST for a claimed delivery and reports what happened. Never throws:
 * every outcome, including a crash of the peer, is an AttemptResult.
 */
export class HttpSender {
  private readonly agent: Agent;

  constructor(private readonly options: HttpSenderOptions) {
    this.agent = new Agent({
      keepAliveTimeout: 10_000,
      // our own deadline (an AbortSignal) governs; undici's per-phase timers stay out of the way
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: options.extraCa?.length ? { ca: [...rootCertificates, ...options.extraCa] } : undefined,
    });
  }

  async send(delivery: ClaimedDelivery, signingKey: string): Promise<AttemptResult> {
    const { clock } = this.options;
    const startedAt = clock.now();
    const timeoutMs = this.options.timeoutMs();
    const controller = new AbortController();
    let timedOut = false;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const timestamp = String(unixSeconds(startedAt));
    let status: number | null = null;
    try {
      const response = await request(delivery.url, {
        dispatcher: this.agent,
        method: 'POST',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.options.userAgent,
          'x-timestamp': timestamp,
          'x-signature': sign(signingKey, delivery.body, timestamp),
        },
        body: delivery.body,
      });
      status = response.statusCode;
      const preview = await readPreview(response.body);
      const ok = status >= 200 && status < 300;
      let error: string | null = null;
      if (!ok) {
        const location = response.headers.location;
        error = status >= 300 && status < 400 ? `redirect ${status}${location ? ` to ${location}` : ''} not followed` : `HTTP ${status}`;
      }
      return { delivery, startedAt, durationMs: clock.now() - startedAt, ok, status, error, responsePreview: preview };
    } catch (error) {
      // A 2xx that arrived in time counts even if its body then stalls or breaks.
      const ok = status !== null && status >= 200 && status < 300;
      return {
        delivery,
        startedAt,
        durationMs: clock.now() - startedAt,
        ok,
        status,
        error: ok ? null : describeSendError(error, timedOut, timeoutMs),
        responsePreview: null,
      };
    } finally {
      clock.clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

async function readPreview(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const room = RESPONSE_READ_LIMIT - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= RESPONSE_READ_LIMIT) break;
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_PREVIEW_CHARS);
}
