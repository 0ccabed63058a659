import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { openSync, write, writeSync } from 'node:fs';
import { LogController, type FastifyServerOptions } from 'fastify';
import { newId } from './ids.ts';
import { redactUrlsIn } from '../protocol/redact.ts';

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
    const prettyStream = pretty({
      destination: 2,
      sync: true,
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    });
    logger = pino(
      { level, name: options.name, base: { name: options.name } },
      { write: (line: string) => prettyStream.write(redactUrlsIn(line)) },
    );
  } else
    logger = pino(
      { level, name: options.name, base: { name: options.name } },
      new BatchedLogDestination(options.file ?? 2),
    );
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
export function hotLogLine(
  root: LineLogger,
): (logger: LineLogger, level: keyof typeof LEVEL_NUMBERS, fields: Record<string, unknown>, msg: string) => void {
  const throughPino = (
    logger: LineLogger,
    level: keyof typeof LEVEL_NUMBERS,
    fields: Record<string, unknown>,
    msg: string,
  ) => logger[level](fields, msg);
  if (!isPlainFormat(root)) return throughPino;
  const internals = root as unknown as Record<symbol, unknown>;
  const destination = internals[streamSym] as { write(line: string): void };
  const serialized = Object.keys((internals[serializersSym] as object | undefined) ?? {});
  return (logger, level, fields, msg) => {
    if (!logger.isLevelEnabled!(level)) return;
    for (const key of serialized) if (key in fields) return throughPino(logger, level, fields, msg);
    const json = JSON.stringify(fields);
    const bindings = (logger as unknown as Record<symbol, string>)[chindingsSym];
    destination.write(
      `{"level":${LEVEL_NUMBERS[level]},"time":${Date.now()}${bindings}${json.length > 2 ? `,${json.slice(1, -1)}` : ''},"msg":${JSON.stringify(msg)}}\n`,
    );
  };
}

/** How long a log line may wait in memory for others to share its write. */
const LOG_FLUSH_MS = 200;
/** Lines waiting past this are dropped (a log reader that stopped must not exhaust memory). */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** Every open destination, written out synchronously when the process exits. */
const openDestinations = new Set<BatchedLogDestination>();
let exitHookInstalled = false;

/**
 * A log destination (stderr: 2, or a file path) written in batches: a line per request or attempt
 * is thousands of lines a second under load, and one write(2) each cost more than the line itself.
 * Lines wait in an array (no per-line byte counting or string growing, which made pino's own
 * asynchronous destination cost ~2.5 µs per line against ~0.5 here) and go out in one asynchronous
 * write once 8 KiB are waiting or every LOG_FLUSH_MS, one write at a time, in order; what is still
 * waiting when the process exits is written synchronously. A `kill -9` loses at most the last
 * LOG_FLUSH_MS of log, never data. A failing write drops its lines rather than the process.
 */
export class BatchedLogDestination {
  private waiting: string[] = [];
  private waitingLength = 0;
  private writing = false;
  private dropped = 0;
  private readonly fd: number;

  constructor(
    dest: number | string,
    private readonly minLength = 8192,
  ) {
    this.fd = typeof dest === 'number' ? dest : openSync(dest, 'a');
    setInterval(() => this.flush(), LOG_FLUSH_MS).unref();
    openDestinations.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const destination of openDestinations) destination.flushSync();
      });
    }
  }

  /**
   * pino's only call: one line, newline included. Every line passes here (hot ones too), so this is
   * where the credentials of any URL in it are masked.
   */
  write(rawLine: string): boolean {
    const line = redactUrlsIn(rawLine);
    if (this.waitingLength > MAX_WAITING_BYTES) {
      this.dropped++;
      return true;
    }
    this.waiting.push(line);
    this.waitingLength += line.length;
    if (this.waitingLength >= this.minLength) this.flush();
    return true;
  }

  /** Start writing what waits, unless a write is in flight (its end starts the next). */
  flush(): void {
    if (this.writing || this.waiting.length === 0) return;
    this.writing = true;
    this.writeOut(Buffer.from(this.take()), 0);
  }

  /** On exit: what waits, synchronously (a write already in flight is the thread pool's to finish). */
  flushSync(): void {
    if (this.waiting.length === 0) return;
    const chunk = Buffer.from(this.take());
    for (let offset = 0; offset < chunk.length;) {
      try {
        offset += writeSync(this.fd, chunk, offset);
      } catch {
        return; // nowhere left to write to: the process is ending anyway
      }
    }
  }

  private take(): string {
    if (this.dropped > 0) {
      this.waiting.push(
        `{"level":40,"time":${Date.now()},"msg":"log lines dropped: the log destination did not keep up","dropped":${this.dropped}}\n`,
      );
      this.dropped = 0;
    }
    const text = this.waiting.join('');
    this.waiting = [];
    this.waitingLength = 0;
    return text;
  }

  private writeOut(chunk: Buffer, offset: number): void {
    write(this.fd, chunk, offset, chunk.length - offset, null, (error, written) => {
      if (error && (error as NodeJS.ErrnoException).code === 'EAGAIN') {
        setTimeout(() => this.writeOut(chunk, offset), 10).unref();
        return;
      }
      if (!error && offset + written < chunk.length) return this.writeOut(chunk, offset + written);
      this.writing = false;
      if (this.waitingLength >= this.minLength) this.flush();
    });
  }
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
