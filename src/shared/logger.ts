import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { openSync, write, writeSync } from 'node:fs';
import { LogController, type FastifyBaseLogger, type FastifyServerOptions } from 'fastify';
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
    const bindings = (logger as unknown as Record<symbol, string>)[chindingsSym];
    destination.write(
      `{"level":${LEVEL_NUMBERS[level]},"time":${Date.now()}${bindings}${jsonMembers(fields)},"msg":${jsonText(msg)}}\n`,
    );
  };
}

/** What a JSON string may hold as it is: printable ASCII but the quote and the backslash. */
const PLAIN_JSON_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A text as JSON.stringify writes it; the usual one (nothing to escape) without calling it. */
const jsonText = (text: string): string => (PLAIN_JSON_TEXT.test(text) ? `"${text}"` : JSON.stringify(text));

/**
 * `,"key":value` for each field of a flat object, exactly as JSON.stringify renders its members
 * (undefined and functions left out, NaN as null, objects and arrays through JSON.stringify).
 * Texts and numbers are written here: JSON.stringify of a small object was half of a hot line's
 * cost in a busy process (a call into the runtime, where this compiles to a few string additions).
 */
function jsonMembers(fields: Record<string, unknown>): string {
  let members = '';
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    let json: string | undefined;
    if (typeof value === 'string') json = jsonText(value);
    else if (typeof value === 'number') json = Number.isFinite(value) ? String(value) : 'null';
    else if (typeof value === 'boolean') json = value ? 'true' : 'false';
    else if (value === null) json = 'null';
    else json = JSON.stringify(value) as string | undefined;
    if (json !== undefined) members += `,${jsonText(key)}:${json}`;
  }
  return members;
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

  /** pino's only call: one line, newline included (its URLs are masked with the batch, in take). */
  write(line: string): boolean {
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
    // Every line passes here: this is where the credentials of any URL in one are masked, once
    // for the whole batch (a URL never spans lines), which costs a text without one a single scan.
    const text = redactUrlsIn(this.waiting.join(''));
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
    childLoggerFactory: requestLogger,
  } as FastifyServerOptions;
}

/**
 * The logger Fastify makes for each request: its app's logger with the request id among the
 * bindings. For a plain-format logger (plainFormat) this is the object pino's child() makes, made
 * directly: a new object over the parent holding the longer bindings text. Fastify asks for one
 * per request, and pino's general path (its options looked at, its formatters rebuilt) was a
 * measurable part of a small request. Anything else goes through pino.
 */
function requestLogger(
  logger: FastifyBaseLogger,
  bindings: Record<string, unknown>,
  options: object,
): FastifyBaseLogger {
  const reqId = bindings.reqId;
  if (typeof reqId !== 'string' || Object.keys(bindings).length !== 1 || Object.keys(options).length > 0)
    return logger.child(bindings, options);
  if (!isPlainFormat(logger)) return logger.child(bindings);
  const child = Object.create(logger) as FastifyBaseLogger;
  const parentBindings = (logger as unknown as Record<symbol, string>)[chindingsSym];
  (child as unknown as Record<symbol, string>)[chindingsSym] = `${parentBindings},"reqId":${jsonText(reqId)}`;
  return child;
}
