import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';

export interface ReadRawBodyOptions {
  /** Largest body accepted, in bytes. Webhook bodies are small; the default is 1 MiB. */
  limit?: number;
}

export type RawBodyErrorCode = 'too-large' | 'aborted' | 'already-read';

/**
 * Reading the body failed. `statusCode` is what to answer: 413 for too large, 400 for a broken
 * request, 500 when the body was consumed by something else first (a server mistake).
 */
export class RawBodyError extends Error {
  override name = 'RawBodyError';
  readonly statusCode: number;
  constructor(
    readonly code: RawBodyErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = code === 'too-large' ? 413 : code === 'already-read' ? 500 : 400;
  }
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The request body exactly as received, as bytes, for verifySignature. Use it before anything
 * parses the body: the signature covers these bytes, not a re-serialised JSON object.
 */
export function readRawBody(req: IncomingMessage, options: ReadRawBodyOptions = {}): Promise<Buffer> {
  const limit = options.limit ?? DEFAULT_BODY_LIMIT;
  return new Promise((resolve, reject) => {
    if (req.readableEnded) {
      reject(
        new RawBodyError(
          'already-read',
          'the request body was already read, probably by a body parser; read the raw body first',
        ),
      );
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      // Drain what comes so the caller can still answer 413 on this connection.
      req.resume();
      reject(new RawBodyError('too-large', `request body is ${declared} bytes, more than the ${limit} allowed`));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const finish = (error?: RawBodyError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onAborted);
      if (error) {
        req.resume();
        reject(error);
      } else {
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
      }
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > limit)
        return finish(new RawBodyError('too-large', `request body is more than the ${limit} bytes allowed`));
      chunks.push(bytes);
    };
    const onEnd = () => finish();
    const onError = (error: Error) =>
      finish(new RawBodyError('aborted', `the request body could not be read: ${error.message}`));
    const onAborted = () =>
      finish(new RawBodyError('aborted', 'the client closed the connection before the body was complete'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    // 'close' before 'end' means the body will never be complete; without this the promise would hang.
    req.on('close', onAborted);
  });
}
