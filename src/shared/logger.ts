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
  const stream = process.stderr.isTTY
    ? // loaded only for a terminal: most runs (services, tests) never need it
      (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty'))({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : pino.destination({ dest: 2, sync: false });
  return pino({ level, name: options.name, base: { name: options.name } }, stream);
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

/** One line per API request (method, route, status, time, request id), echoing the id in `X-Request-Id`. */
export function installRequestLog(app: App): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: request.ip },
      'request',
    );
  });
}
