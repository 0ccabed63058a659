import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { LogController, type FastifyServerOptions } from 'fastify';
import { newId } from './ids.ts';
import type { App } from './http.ts';

export type { Logger };

/**
 * The process's structured log (pino) on stderr, so stdout stays for the `ready {json}` line and
 * command output (or in `file`). Pretty when stderr is a terminal, one JSON object per line otherwise.
 * Level: `SMSGATE_LOG_LEVEL` (trace … fatal, or silent); under `node --test` it defaults to silent.
 */
export function createLogger(options: { name: string; level?: string; file?: string } = { name: 'smsgate' }): Logger {
  const level = options.level ?? process.env.SMSGATE_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? 'silent' : 'info');
  let logger: Logger;
  if (level === 'silent') logger = pino({ level, name: options.name });
  else if (options.file === undefined && process.stderr.isTTY) {
    // loaded only for a terminal: most runs (services, tests) never need it
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    logger = pino({ level, name: options.name, base: { name: options.name } }, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  } else logger = pino({ level, name: options.name, base: { name: options.name } }, batchedDestination(options.file ?? 2));
  return plainFormat(logger);
}

/** Loggers whose lines are pino's default format: no formatters, serializers, mixins or custom time. */
const plainFormatLoggers = new WeakSet<object>();

/** What hotLogLine needs of a logger (a pino Logger, or the FastifyBaseLogger of a request). */
type LineLogger = Pick<Logger, 'info' | 'warn'> & { isLevelEnabled?: (level: string) => boolean };

/** Mark a logger (built without formatters, serializers, mixins or a custom timestamp) for hotLogLine. */
export function plainFormat(logger: Logger): Logger {
  plainFormatLoggers.add(logger);
  return logger;
}

const LEVEL_NUMBERS = { info: 30, warn: 40 } as const;
const { chindingsSym, serializersSym, streamSym } = pino.symbols;

/** Whether a logger, or a logger it is a child of (pino children inherit from their parent), was marked plain. */
function isPlainFormat(logger: object): boolean {
  for (let ancestor: object | null = logger; ancestor !== null; ancestor = Object.getPrototypeOf(ancestor)) {
    if (plainFormatLoggers.has(ancestor)) return true;
  }
  return false;
}

/**
 * The writer of the hottest lines (one per API request, one per delivery attempt). Given a logger
 * marked with plainFormat, or a child of one, it writes the very line pino would (level, time, the
 * logger's bindings, the fields, msg) straight to the logger's destination: pino's general path
 * (bindings merged per call, serializers looked up per key) cost about a tenth of an API request's
 * CPU. A field that one of the logger's serializers handles (Fastify's serialize req, res and err),
 * and any logger not marked, go through pino as usual.
 */
export function hotLogLine(root: LineLogger): (logger: LineLogger, level: keyof typeof LEVEL_NUMBERS, fields: Record<string, unknown>, msg: string) => void {
  const throughPino = (logger: LineLogger, level: keyof typeof LEVEL_NUMBERS, fields: Record<string, unknown>, msg: string) => logger[level](fields, msg);
  if (!isPlainFormat(root)) return throughPino;
  const internals = root as unknown as Record<symbol, unknown>;
  const destination = internals[streamSym] as { write(line: string): void };
  const serialized = Object.keys((internals[serializersSym] as object | undefined) ?? {});
  return (logger, level, fields, msg) => {
    if (!logger.isLevelEnabled!(level)) return;
    for (const key of serialized) if (key in fields) return throughPino(logger, level, fields, msg);
    const json = JSON.stringify(fields);
    const bindings = (logger as unknown as Record<symbol, string>)[chindingsSym];
    destination.write(`{"level":${LEVEL_NUMBERS[level]},"time":${Date.now()}${bindings}${json.length > 2 ? `,${json.slice(1, -1)}` : ''},"msg":${JSON.stringify(msg)}}\n`);
  };
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
    // Fastify's own two lines per request are replaced by installRequestTelemetry's one.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => newId(),
  } as FastifyServerOptions;
}
