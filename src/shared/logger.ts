import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { LogController, type FastifyServerOptions } from 'fastify';
import { newId } from './ids.ts';
import type { App } from './http.ts';

export type { Logger };

/**
 * The process's structured log (pino) on stderr, so stdout stays for the `ready {json}` line and
 * command output. Pretty when stderr is a terminal, one JSON object per line otherwise.
 * Level: `SMSGATE_LOG_LEVEL` (trace … fatal, or silent); under `node --test` it defaults to silent.
 */
export function createLogger(options: { name: string; level?: string } = { name: 'smsgate' }): Logger {
  const level = options.level ?? process.env.SMSGATE_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info');
  if (level === 'silent') return pino({ level, name: options.name });
  if (process.stderr.isTTY) {
    // loaded only for a terminal: most runs (services, tests) never need it
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino({ level, name: options.name, base: { name: options.name } }, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino({ level, name: options.name, base: { name: options.name } }, batchedDestination(2));
}

/** How long a log line may wait in memory for others to share its write. */
const LOG_FLUSH_MS = 200;

/**
 * A log destination (stderr: 2, or a file path) written in batches: a line per request or attempt
 * is thousands of lines a second under load, and one write(2) each cost more than the line itself.
 * Lines are written once 8 KiB are waiting or every LOG_FLUSH_MS, and on exit (pino flushes its
 * destination then); a `kill -9` loses at most the last LOG_FLUSH_MS of log, never data.
 */
export function batchedDestination(dest: number | string): ReturnType<typeof pino.destination> {
  const stream = pino.destination({ dest, sync: false, minLength: 8192 });
  setInterval(() => {
    // `_len`: what is waiting (sonic-boom keeps no public count); flush() of nothing would write 0 bytes
    if ((stream as unknown as { _len?: number })._len !== 0) stream.flush();
  }, LOG_FLUSH_MS).unref();
  return stream;
}

/**
 * Fastify options for a logged app: the caller's `X-Request-Id` is kept (or one is generated) and
 * becomes the request's id in every log line.
 */
export function appLoggingOptions(logger: Logger): FastifyServerOptions {
  return {
    loggerInstance: logger,
    // Fastify's own two lines per request are replaced by installRequestLog's one.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => newId(),
  } as FastifyServerOptions;
}

/**
 * One line per API request (method, route, status, time, request id), echoing the id in `X-Request-Id`.
 * Callback-style hooks: they run on every request, and an async hook costs a promise each time.
 */
export function installRequestLog(app: App): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      { method: request.method, url: request.url, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: request.ip },
      'request',
    );
    done();
  });
}
