import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
// Route schemas carry OpenAPI fields (tags, summary); this brings their types.
import type {} from '@fastify/swagger';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import {
  DomainError,
  ForbiddenError,
  InvalidInputError,
  UnauthorizedError,
  UnavailableError,
  type DomainErrorKind,
} from './errors.ts';
import { formatValidationErrors } from './validation-errors.ts';
import type { RouteScope } from './scopes.ts';
import { isDiskFull } from './disk-full.ts';

/**
 * How Ajv checks what a request carries: bodies are JSON and must have the right types as sent ("5"
 * is not 5); query strings and path parameters are text by nature, so those are coerced.
 */
const AJV_OPTIONS = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
const bodyAjv = () => new Ajv({ ...AJV_OPTIONS, coerceTypes: false });
const textAjv = () => new Ajv({ ...AJV_OPTIONS, coerceTypes: 'array' });

/** Checks of documents inside bodies (`documentCheck`), compiled once per schema at start. */
const documentAjv = bodyAjv();

/**
 * A check of a JSON document (an item of a body's list, say) against a schema, as route bodies are
 * checked: what is wrong, in the words of a validation error (the field by name), or undefined
 * when it fits. For module-level schemas: each call compiles.
 */
export function documentCheck(schema: object): (value: unknown) => string | undefined {
  const validate = documentAjv.compile(schema);
  return (value) =>
    validate(value) ? undefined : formatValidationErrors((validate.errors ?? []) as never, '').message;
}

/** A body validator compiled as route bodies are, for a route that checks its body its own way. */
export const compileBodyValidator = (schema: object) => documentAjv.compile(schema);

/** The Content-Type of every JSON answer, exactly. */
export const JSON_CONTENT_TYPE = 'application/json';
const FASTIFY_JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Every answer: its type is what it says (a browser never guesses a script or a page from bytes
 * served as something else).
 */
export const NOSNIFF = { 'x-content-type-options': 'nosniff' } as const;

/**
 * What every HTML page (the dashboard, Swagger UI) is allowed to load: its own scripts, styles,
 * images and API, nothing inline or from elsewhere; and it is never shown inside another site's
 * frame (clickjacking). `style-src` allows inline styles: Swagger UI sets some.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
} as const;

/** Request bodies larger than this are refused with 413. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * How long a request may take to arrive, headers and body: a client that stops sending halfway
 * gets a 408 (checked every REQUEST_CHECK_INTERVAL_MS) instead of holding its connection for
 * good. A full 1 MiB body needs only ~35 KB/s for it. Event streams are not affected: their
 * request is complete at once, and only the answer stays open.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
const REQUEST_CHECK_INTERVAL_MS = 5_000;

/**
 * A Fastify instance with the TypeBox type provider: route handlers get their body, params and
 * query typed from the route's schemas, and what they send is checked against its responses.
 */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * A Fastify instance with the conventions every smsgate API follows: JSON error bodies
 * `{"message"}`, 4xx for every client mistake (never a 5xx), 404 JSON for unknown routes.
 */
export function createApp(
  options: FastifyServerOptions & { https?: { key: string | Buffer; cert: string | Buffer } | null } = {},
): App {
  const requestTimeout = options.requestTimeout ?? REQUEST_TIMEOUT_MS;
  // requireHostHeader off: node:http would answer a missing Host with a bare 400; the hook below says why
  const timing = { connectionsCheckingInterval: REQUEST_CHECK_INTERVAL_MS, requestTimeout, requireHostHeader: false };
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // Errors raised before routing (a bad %-escape, an over-long path segment) and by the HTTP
    // parser answer like every other error; Fastify's defaults add error/code/statusCode keys.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      // Answered before routing, without the app's hooks. A serializer of its own keeps Fastify
      // from adding a charset to the type.
      reply
        .code(error.statusCode ?? 400)
        .type(JSON_CONTENT_TYPE)
        .headers(NOSNIFF)
        .serializer(JSON.stringify)
        .send({ message: frameworkErrorMessage(error) });
    },
    clientErrorHandler: answerClientError,
    ...options,
    requestTimeout,
    // node:http only watches the timeout given to its constructor, not the one Fastify sets after
    http: { ...timing, ...(options as { http?: object }).http, requestTimeout },
    ...(options.https ? { https: { ...timing, ...options.https } } : {}),
  } as FastifyServerOptions).withTypeProvider<TypeBoxTypeProvider>();

  // One hook for both checks every request passes: each hook is a step of its own per request.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion === '1.1' && !request.headers.host) {
      return void reply.code(400).send({ message: 'an HTTP/1.1 request needs a Host header' });
    }
    refuseCrossSiteRequests(request, reply, done);
  });
  // node:http answers an Expect it does not know with a bare 417; this one says what to do.
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({
      message: `Expect: ${String(request.headers.expect).slice(0, 100)} is not supported; send the request without it (Expect: 100-continue is fine)`,
    });
    response
      .writeHead(417, {
        'content-type': JSON_CONTENT_TYPE,
        ...NOSNIFF,
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      })
      .end(body);
  });

  // One pair per app: Ajv keeps what it compiled, and an app's routes go with the app.
  const strict = bodyAjv();
  const coercing = textAjv();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  // Validation errors name the field, the allowed values or the unknown key.
  app.setSchemaErrorFormatter(formatValidationErrors);
  acceptEmptyBodies(app);
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    const type = reply.getHeader('content-type');
    // Fastify labels the JSON it serialises `application/json; charset=utf-8`; JSON has no charset
    // parameter (RFC 8259: it is UTF-8), and clients compare the type as a whole.
    if (type === FASTIFY_JSON_CONTENT_TYPE) reply.header('content-type', JSON_CONTENT_TYPE);
    else if (typeof type === 'string' && type.startsWith('text/html')) reply.headers(PAGE_HEADERS);
    done(null, payload);
  });

  app.setErrorHandler(
    (
      error: Error & { statusCode?: number; validation?: unknown; validationContext?: string; code?: string },
      request,
      reply,
    ) => {
      if (error instanceof DomainError) return sendDomainError(error, reply);
      if (error.validation) {
        const where = error.validationContext ?? 'request';
        return reply
          .code(400)
          .send({ message: `invalid ${where}: ${error.message.replace(/^(body|querystring|params|headers)\/?/, '')}` });
      }
      if (isDataException(error)) {
        // PostgreSQL refused a value the request carried (a NUL byte in a text, a number out of a
        // column's range): the request is at fault, and the schemas should have caught it first.
        request.log.warn({ err: error }, 'a request value was refused by the database');
        return reply.code(400).send({ message: `a value in this request cannot be stored: ${error.message}` });
      }
      if (isDiskFull(error)) {
        request.log.warn(`a write found the disk full: ${error.message}`);
        return sendDomainError(
          new UnavailableError('the disk is full: this request could not be stored; try again once there is room', 10),
          reply,
        );
      }
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
        // a write waited out the busy timeout behind another writer of the same file: nothing was stored
        request.log.warn(`a write found the database locked: ${error.message}`);
        return sendDomainError(new UnavailableError('the database is busy; try again shortly', 1), reply);
      }
      // Only an error that carries no status of its own: Fastify gives a request body cut off by
      // its client (ECONNRESET, "aborted") a 400, and that is the client's doing, not the database's.
      if (error.statusCode === undefined && isDatabaseUnavailable(error)) {
        // Not this request's fault and not a bug: the client (or its load balancer) may retry.
        request.log.warn(`the database is unreachable: ${error.message}`);
        return sendDomainError(
          new UnavailableError('the database is unreachable right now; try again shortly', 5),
          reply,
        );
      }
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.code(status).send({ message: clientErrorMessage(error, status) });
      }
      request.log.error(error);
      return reply.code(500).send({ message: 'internal error; the server log has the details' });
    },
  );

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  return app;
}

/** Methods that change nothing: a browser may send them from anywhere (links, images, the dashboard's reads). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser request that changes something must come from the page's own origin: another site (or
 * another port of the same host) could otherwise use credentials the browser holds for this one
 * (cached Basic auth) without the user knowing. Browsers say where a request comes from in
 * `Sec-Fetch-Site` (only `same-origin`, and `none` for what the user typed, pass) and in `Origin`
 * (it must name this host and port). API clients send neither header and are not affected; the
 * dashboards' own calls are same-origin.
 */
function refuseCrossSiteRequests(request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
  if (SAFE_METHODS.has(request.method)) return done();
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return done(crossSiteError(`Sec-Fetch-Site: ${String(site).slice(0, 40)}`));
  }
  if (origin !== undefined && site === undefined && !isOwnOrigin(origin, request.host)) {
    return done(crossSiteError(`Origin ${origin.slice(0, 200)} is not this address`));
  }
  done();
}

/** Whether `origin` (scheme://host[:port]) names `host` (the request's Host, port included). */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (origin === 'null' || !host) return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

const crossSiteError = (why: string) =>
  new ForbiddenError(
    `a cross-site browser request is refused (${why}): a request that changes something must come from a program (which sends no Origin) or from the dashboard on this same address`,
  );

/**
 * Only JSON bodies are accepted, but a request without one is judged by its route, not by its
 * Content-Type: clients (the official Python one among them) send `Content-Type: application/json`
 * on every GET and DELETE. An empty body is no body, whatever its type; a route that defines a body
 * refuses it with 400, the others take it. A non-empty body of another type is a 415 rather than a
 * confusing type error.
 */
function acceptEmptyBodies(app: App): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    if (nestedTooDeep(body as string)) return done(new InvalidInputError(TOO_DEEP_MESSAGE));
    parseJson(request, body as string, done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    done(
      Object.assign(new Error('unsupported Content-Type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }),
    );
  });
  // Added to each route that defines a body, ahead of its own hooks; routes without one pay nothing.
  const requireBody = (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
    if (request.body === undefined) return done(new InvalidInputError(EMPTY_BODY_MESSAGE));
    done();
  };
  app.addHook('onRoute', (route) => {
    if ((route.schema as { body?: unknown } | undefined)?.body === undefined) return;
    route.preValidation = [requireBody, ...[route.preValidation ?? []].flat()] as typeof route.preValidation;
  });
}

const EMPTY_BODY_MESSAGE = 'the body is empty; send a JSON document';

/**
 * How deep a JSON body may nest objects and arrays. Every document of both APIs needs fewer than
 * ten levels; a deeper one would only cost recursion later (serialising it again, checking it).
 */
export const MAX_JSON_DEPTH = 32;
const TOO_DEEP_MESSAGE = `the JSON body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep; no document of this API needs that many`;

/** Whether a JSON text opens more than MAX_JSON_DEPTH objects and arrays inside one another (one pass, no recursion). */
export function nestedTooDeep(text: string): boolean {
  if (text.length <= MAX_JSON_DEPTH) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The status of each kind of domain error: the one place where a kind becomes a status. */
const STATUS_OF_KIND: Record<DomainErrorKind, number> = {
  'invalid-input': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-many-requests': 429,
  'not-implemented': 501,
  unavailable: 503,
};

function sendDomainError(error: DomainError, reply: FastifyReply): FastifyReply {
  if (error instanceof UnauthorizedError) reply.header('www-authenticate', 'Basic realm="smsgate", charset="UTF-8"');
  if ('retryAfterSeconds' in error) reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.code(STATUS_OF_KIND[error.kind]).send({ message: error.message });
}

/** A PostgreSQL error of SQLSTATE class 22, "data exception" (pg's errors carry `code` and `severity`). */
function isDataException(error: Error & { code?: string }): boolean {
  return typeof error.code === 'string' && /^22[0-9A-Z]{3}$/.test(error.code) && 'severity' in error;
}

/**
 * Network errors on the way to the database, as Node reports them. No route handler makes other
 * outbound connections, so one of these reaching the error handler without a status is the database's.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL is down, restarting or out of reach: a connection refused or cut, SQLSTATE class 08
 * (connection exception), 57P01–57P03 (the server shutting down or starting up), or pg's own
 * messages for a connection that broke or could not be had in time.
 */
function isDatabaseUnavailable(error: Error & { code?: string }): boolean {
  if (typeof error.code === 'string') {
    if ('severity' in error && /^(08[0-9A-Z]{3}|57P0[1-3])$/.test(error.code)) return true;
    if (UNREACHABLE_CODES.has(error.code)) return true;
  }
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
    error.message,
  );
}

function clientErrorMessage(error: Error & { code?: string }, status: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body is larger than ${BODY_LIMIT_BYTES} bytes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported Content-Type; send application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return EMPTY_BODY_MESSAGE;
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    default:
      if (error instanceof SyntaxError || /JSON/.test(error.message)) return `malformed JSON body: ${error.message}`;
      return error.message || `request failed with status ${status}`;
  }
}

function frameworkErrorMessage(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return 'the URL is malformed: a %-escape does not decode (e.g. a lone % or invalid UTF-8)';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'a path parameter is too long (over 100 characters)';
    default:
      return error.message;
  }
}

/** A request the HTTP parser refused (not HTTP, headers too large, too slow): `{"message"}`, then close. */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request took too long to arrive']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, `malformed HTTP request (${error.code ?? 'parse error'})`];
  const body = JSON.stringify({ message });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${JSON_CONTENT_TYPE}\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Parse `Authorization: Basic ...`; undefined when absent or malformed. */
export function parseBasicAuth(request: FastifyRequest): { username: string; password: string } | undefined {
  const header = request.headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Constant-time string equality (hashing first makes lengths equal). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export const unauthorized = (): UnauthorizedError =>
  new UnauthorizedError('missing or wrong credentials: use HTTP Basic auth');

/**
 * Send an answer already serialised as JSON (a cached one): Fastify sends a string as it is. A
 * route's own `reply.send` is typed with its response schema and takes the document, not its text.
 */
export function sendSerialized(reply: FastifyReply, json: string): FastifyReply {
  return reply.type(JSON_CONTENT_TYPE).send(json);
}

/**
 * A route's options: the scope an access token must hold (`config.scope`, checked by the API's
 * auth) and its schema, which types the handler's request and documents the operation.
 */
export const operation = <S extends FastifySchema>(scope: RouteScope, schema: S) => ({ config: { scope }, schema });

/**
 * The answer of a route that changes something and has nothing to say back: 204 No Content once
 * `done` settles (a failure answers as every error does). The handler returns it as it is, not
 * from an async arrow of its own: one promise per request, as a handler that awaits itself.
 */
export function noContent(
  reply: { code(statusCode: 204): { send(payload: null): unknown } },
  done: Promise<unknown>,
): Promise<void> {
  return done.then(() => {
    reply.code(204).send(null);
  });
}

/**
 * Fastify's `trustProxy` for a list of proxies (addresses or CIDR ranges): the client's address is
 * then the last one in X-Forwarded-For that is not one of them. None given, the header is ignored,
 * since anyone can write it. A malformed entry is refused here, with what is wrong.
 */
export function trustProxyOption(proxies: readonly string[] | undefined): { trustProxy?: string[] } {
  if (!proxies || proxies.length === 0) return {};
  for (const entry of proxies) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 4 ? 32 : 128;
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !validBits || extra !== undefined) {
      throw new Error(`trusted proxy "${entry}" is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/8)`);
    }
  }
  return { trustProxy: [...proxies] };
}
