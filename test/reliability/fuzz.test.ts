/**
 * Hostile clients (issue 7, item 4): generated requests against every route of the Local API
 * (device), the 3rdparty API and the mobile API (server). The routes are read from the apps
 * themselves, so a new route is fuzzed without touching this file.
 *
 * Invariants, for every request: no 5xx (except the two routes that exist to answer 501), no
 * hang, no crash; every error body is exactly {"message": "<text>"}; a body over 1 MiB is 413.
 * Replay a run with FUZZ_SEED=<seed printed on failure>; FUZZ_REPORT=<file> writes every violation there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { BODY_LIMIT_BYTES, type App } from '../../src/shared/http.ts';
import { startTestDevice, TEST_PASSWORD } from '../helpers/device.ts';
import { startTestServer, newDevice, basic, bearer, call } from '../server/helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** FUZZ_SCALE=10 runs ten times as many generated requests (a longer hunt); 0.1 a quick look. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** generated requests per app through app.inject() */
const INJECTED = { device: Math.round(4_000 * SCALE), server: Math.round(8_000 * SCALE) };
/** generated requests per app over real HTTP */
const OVER_HTTP = { device: Math.round(250 * SCALE), server: Math.round(350 * SCALE) };
const CONCURRENCY = 16;
const TIMEOUT_MS = 20_000;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Routes that exist only to say "not here" with 501 (docs/server.md); any other 5xx is a failure. */
const DECLARED_501 = /^(\/api)?\/3rdparty\/v1\/logs$/;

// ---------------------------------------------------------------------------------------------
// Routes, from the app

interface Route {
  method: string;
  /** as registered, e.g. /webhooks/:id */
  path: string;
}

/**
 * Every method + path the app serves, from `printRoutes` (a radix tree: a line's path extends its
 * parent's). With the common prefixes printed: without them Fastify leaves out a wildcard route's
 * static part (`/ui/*` printed as `*`).
 */
function routesOf(app: App): Route[] {
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: true }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    const path = (depth > 0 ? prefixes[depth - 1] : '') + match[2];
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

// ---------------------------------------------------------------------------------------------
// What a request is, and how it is sent

interface FuzzRequest {
  route: Route;
  method: string;
  /** path and query, as sent */
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** whether it carries the right credentials for its route's API */
  validAuth: boolean;
  label: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms: ${what}`)), TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Read a response stream, but only the headers of an event stream (it never ends). */
async function readBody(
  stream: NodeJS.ReadableStream,
  contentType: string | undefined,
  stop: () => void,
): Promise<string> {
  if (/event-stream/.test(contentType ?? '')) {
    stop();
    return '';
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function inject(app: App, r: FuzzRequest): Promise<Answer> {
  const res = await app.inject({
    method: r.method as 'GET',
    url: r.url,
    headers: r.headers,
    payload: r.body,
    payloadAsStream: true,
  });
  const raw = res.raw.res;
  const body = await readBody(res.stream(), res.headers['content-type'] as string | undefined, () => raw.destroy());
  return { status: res.statusCode, headers: res.headers, body };
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** Over real HTTP with node:http, which sends the path exactly as given (no `..` clean-up). */
function overHttp(base: string, r: FuzzRequest): Promise<Answer> {
  const url = new URL(base);
  // An explicit length: node would send a DELETE or OPTIONS body with neither length nor chunking.
  const headers =
    r.body === undefined ? r.headers : { ...r.headers, 'content-length': String(Buffer.byteLength(r.body)) };
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: r.method, path: r.url, headers, agent },
      (res) => {
        readBody(res, res.headers['content-type'], () => res.destroy()).then(
          (body) => resolve({ status: res.statusCode!, headers: res.headers, body }),
          reject,
        );
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/**
 * A body over real HTTP on its own connection, with a Content-Length or chunked; writing stops as
 * soon as the answer comes. An oversized body with a Content-Length is not sent at all: the server
 * must refuse it from the announced length alone. (Were it sent at once, the server's close after
 * its 413 would reset the connection while the client still writes, and the client could lose the
 * answer, as TCP discards unread data on a reset: that is the transport, not the app.)
 */
function streamed(base: string, r: FuzzRequest, withLength: boolean): Promise<Answer> {
  const url = new URL(base);
  const body = Buffer.from(r.body!);
  const headers = withLength
    ? { ...r.headers, 'content-length': String(body.length) }
    : { ...r.headers, 'transfer-encoding': 'chunked' };
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: r.method, path: r.url, headers, agent: false },
      (res) => {
        answered = true;
        readBody(res, res.headers['content-type'], () => res.destroy()).then(
          (text) => resolve({ status: res.statusCode!, headers: res.headers, body: text }),
          reject,
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (!answered && error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    const CHUNK = 64 * 1024;
    const write = (offset: number) => {
      if (answered || req.destroyed) return;
      if (offset >= body.length) return void req.end();
      req.write(body.subarray(offset, offset + CHUNK), () => setImmediate(write, offset + CHUNK));
    };
    if (withLength && body.length > BODY_LIMIT_BYTES) req.flushHeaders();
    else write(0);
  });
}

// ---------------------------------------------------------------------------------------------
// The invariants

const header = (h: Answer['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v === undefined ? undefined : String(v);
};

/** What is wrong with this answer, or undefined. */
function violation(r: FuzzRequest, a: Answer): string | undefined {
  if (a.status >= 500 && !(a.status === 501 && DECLARED_501.test(r.route.path))) return `${a.status}`;
  if (a.status === 429) return '429 (the login throttle is set high here; something else limits)';
  const leaked = LEAK_MARKERS.find((marker) => a.body.includes(marker));
  if (leaked) return `serves "${leaked}" (a file it must not)`;
  if (a.status >= 400 && r.method !== 'HEAD') {
    const type = header(a.headers, 'content-type') ?? '';
    if (!/^application\/json/.test(type)) return `error with content-type "${type}"`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(a.body);
    } catch {
      return `error body is not JSON: ${a.body.slice(0, 200)}`;
    }
    const ok =
      parsed !== null &&
      typeof parsed === 'object' &&
      !Array.isArray(parsed) &&
      Object.keys(parsed).length === 1 &&
      typeof (parsed as { message?: unknown }).message === 'string' &&
      (parsed as { message: string }).message.length > 0;
    if (!ok) return `error body is not exactly {"message"}: ${a.body.slice(0, 200)}`;
  }
  if (
    a.status >= 200 &&
    a.status < 300 &&
    r.method !== 'HEAD' &&
    /^application\/json/.test(header(a.headers, 'content-type') ?? '')
  ) {
    try {
      JSON.parse(a.body);
    } catch {
      return `2xx JSON body does not parse: ${a.body.slice(0, 200)}`;
    }
  }
  return undefined;
}

/** Whether the request got past auth and routing (into validation or the handler). */
function reached(a: Answer): boolean {
  if (a.status === 401 || a.status === 415) return false;
  if (a.status === 404 && /^\{"message":"no route /.test(a.body)) return false;
  return true;
}

class Findings {
  /** every violation: `key` names the kind (where and what), `text` the request that showed it */
  readonly violations: { key: string; text: string }[] = [];
  readonly statuses = new Map<number, number>();
  readonly perRoute = new Map<string, { sent: number; validAuth: number; reached: number }>();
  count = 0;

  record(target: string, r: FuzzRequest, a: Answer | Error): void {
    this.count++;
    const key = `${target} ${r.route.method} ${r.route.path}`;
    const route = this.perRoute.get(key) ?? { sent: 0, validAuth: 0, reached: 0 };
    this.perRoute.set(key, route);
    route.sent++;
    if (r.validAuth) route.validAuth++;
    if (a instanceof Error) return this.flag(target, r, a.message);
    this.statuses.set(a.status, (this.statuses.get(a.status) ?? 0) + 1);
    if (r.validAuth && r.method === r.route.method && reached(a)) route.reached++;
    const problem = violation(r, a);
    if (problem) this.flag(target, r, problem);
  }

  flag(target: string, r: FuzzRequest, problem: string): void {
    this.violations.push({
      key: `${target} ${r.route.method} ${r.route.path}: ${problem.slice(0, 40)}`,
      text: `${target}: ${describe(r)} → ${problem}`,
    });
  }

  assertClean(): void {
    if (process.env.FUZZ_REPORT)
      writeFileSync(process.env.FUZZ_REPORT, this.violations.map((v) => v.text).join('\n') + '\n');
    if (this.violations.length === 0) return;
    // One line per kind of problem (the first request that showed it), so that a report stays short.
    const distinct = new Map<string, string>();
    for (const v of this.violations) if (!distinct.has(v.key)) distinct.set(v.key, v.text);
    assert.fail(
      `FUZZ_SEED=${SEED}: ${this.violations.length} violations, e.g.\n${[...distinct.values()].slice(0, 25).join('\n')}`,
    );
  }
}

function describe(r: FuzzRequest): string {
  const body =
    r.body === undefined ? '' : ` body(${r.body.length} B)=${JSON.stringify(r.body.toString().slice(0, 120))}`;
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);
  return `${r.method} ${clip(r.url, 160)} [${clip(r.label, 60)}] ${clip(JSON.stringify(r.headers), 200)}${body}`;
}

async function runAll(
  requests: Iterable<FuzzRequest>,
  send: (r: FuzzRequest) => Promise<Answer>,
  target: string,
  findings: Findings,
): Promise<void> {
  const queue = [...requests];
  const worker = async () => {
    for (let r = queue.shift(); r; r = queue.shift()) {
      const current = r;
      const answer = await withTimeout(send(current), describe(current)).catch((error: Error) => error);
      findings.record(target, current, answer);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

// ---------------------------------------------------------------------------------------------
// Generators

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const deepMixed = (n: number) => '[{"a":'.repeat(n) + 'null' + '}]'.repeat(n);

const TRAVERSAL_IDS = [
  '..',
  '.',
  '...',
  '..%2f..%2fsettings',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '%2E%2E%2Fsettings',
  '%2e%2e%2f%2e%2e%2f',
  '..%5c..%5csettings',
  '%252e%252e%252f',
  '....%2f%2f',
  '.%2e',
  '%00',
  'a%00b',
  '%00..%2f',
  '%c0%ae%c0%ae',
  '%e0%80%ae',
  '%',
  '%zz',
  '%2',
  '%%32%65',
  '%u002e%u002e',
  '~',
  '%7e',
  '%20',
  '%09',
  '%E2%80%AE',
  '%F0%9F%98%80',
  '%EF%BF%BF',
  '%ED%A0%80',
  '__proto__',
  'constructor',
  'prototype',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e400',
  '%3Aid',
  '*',
  '%2A',
  ';',
  '%3B',
  'x'.repeat(37),
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(101),
  'x'.repeat(4000),
];

/** Query strings for every list and filter (limit, offset, state, from/to, before, …) and none. */
const HOSTILE_QUERIES = [
  'limit=abc',
  'limit=-1',
  'limit=0',
  'limit=501',
  'limit=1e20',
  'limit=1.5',
  'limit=1&limit=2',
  'offset=-5',
  'offset=99999999999999999999',
  'offset=1e300',
  'offset=9007199254740993',
  'state=Nope',
  'state=',
  'state=failed',
  'from=garbage',
  'to=%00',
  'from=+275760-09-13T00:00:00Z',
  'to=-271821-04-20T00:00:00Z',
  'deviceId=' + 'd'.repeat(65),
  'deviceId=',
  'skipPhoneValidation=maybe',
  'skipPhoneValidation=true',
  'before=0',
  'before=1e400',
  'before=99999999999999999999',
  'webhookId=%00',
  'event=sms:nope',
  '__proto__=x',
  'constructor=x',
  '%',
  '%zz',
  '&&&',
  '=',
  'a[b]=c',
  'a=%ff',
];

/**
 * What goes into a `*` (static files): names the static routes serve (the docs' and, since Fastify
 * prints the server's /ui/* as /*, the dashboard's), drawn more often than the rest, so that every
 * static route gets requests past routing whatever the seed; and names that are not there or lead
 * out of the directory.
 */
const STATIC_FILES = [
  '',
  'index.html',
  'swagger-ui.css',
  'swagger-initializer.js',
  'ui/app.js',
  'ui/runtime.js',
  'ui/style.css',
  'ui/ui.js',
  'ui/chart.js',
];
const WILDCARD_PATHS = [
  'x',
  'static/index.html',
  'static/swagger-ui.css',
  'json',
  'openapi.json',
  'static/',
  'static/%2e%2e/%2e%2e/package.json',
  'static/..%2f..%2f..%2fpackage.json',
  '..%2f..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  'static/%00',
  'static/' + 'a'.repeat(300),
  'ui/missing.js',
  'ui/%2e%2e/package.json',
  'ui/..%2f..%2fpackage.json',
];
/** Text that must never be served: files outside what a static route serves, and the databases. */
const LEAK_MARKERS = [
  '"name": "smsgate"',
  '"name": "@fastify/swagger-ui"',
  'root:x:0:0',
  'SQLite format 3',
  '"devDependencies"',
];

/** Raw bodies no JSON encoder would produce. */
const RAW_BODIES: (string | Buffer)[] = [
  '',
  ' ',
  '{',
  '}',
  '[',
  '{"a":',
  '{"a" 1}',
  "{'a': 1}",
  'nul',
  'tru',
  'undefined',
  'NaN',
  '-',
  '01',
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '"\\ud800"',
  '"\\u0000"',
  '{"a":"\\x41"}',
  '{"a":1,"a":2}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[1,2,]',
  '{"a":1,}',
  '\ufeff{}',
  '{}garbage',
  '{}{}',
  '\u0000',
  'a=b&c=d',
  '<?xml version="1.0"?><a/>',
  '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
  Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
  Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]),
  Buffer.from('{"a":"\xff\xfe"}', 'latin1'),
];

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json;;;',
  'application/jsonx',
  'application/json, text/plain',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/octet-stream',
  'application/vnd.api+json',
  'json',
  '*/*',
  'a/b/c',
  ';',
  'application/json; boundary="',
  'application/' + 'j'.repeat(3000),
];

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      -0.0,
      1e308,
      -1e308,
      2 ** 53 + 2,
      2 ** 31,
      -(2 ** 63),
      1e21,
      255,
      256,
      65_536,
      '',
      ' ',
      '0',
      'true',
      'null',
      [],
      {},
      [[]],
      { a: {} },
      [null],
      [''],
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      'Pending',
      'Failed',
      'Nope',
      'sms:received',
      'sms:nope',
      'https://',
      'https://127.0.0.1:9/x',
      'http://example.com/',
      'javascript:alert(1)',
      'file:///etc/passwd',
      '+15550100',
      '+',
      '2030-01-01T00:00:00Z',
      '+275760-09-13T00:00:00.000Z',
      '-271821-04-20T00:00:00.000Z',
      '2030-13-45T99:99:99Z',
      '1e400',
      'x'.repeat(37),
      'x'.repeat(65),
      '../../etc/passwd',
      '\u0000',
      '\ud800',
      '\u202e',
      '𝕏😀',
      'PerHour',
      'RoundRobin',
    ),
  },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(Number),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }), fc.integer({ min: 1_000, max: 150_000 }))
      .map(([unit, n]) => unit.repeat(n)),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.constant('+15550100'), { minLength: 101, maxLength: 1_200 }) },
);

const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'id',
  'deviceId',
  'url',
  'event',
  'phoneNumbers',
  'message',
  'state',
  'webhooks',
  'retryCount',
  'type',
  'data',
  'port',
  'attachments',
  '',
  'ü',
  'k'.repeat(500),
];
const keyArb = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 }));

type Path = (string | number)[];
function nodePaths(value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path);
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) nodePaths(v, [...path, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

/** Set a key the JSON way: `__proto__` becomes an own property, not the prototype. */
function put(target: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Mutation {
  kind: 'replace' | 'delete' | 'add' | 'wrap';
  pick: number;
  key: string;
  value: unknown;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace', 'replace', 'delete', 'add', 'wrap'),
  pick: fc.nat(),
  key: keyArb,
  value: hostileValue,
});

function mutate(template: unknown, mutations: Mutation[]): unknown {
  let root = structuredClone(template);
  for (const mutation of mutations) {
    // generated constants are shared between samples: place copies, never the objects themselves
    const m = { ...mutation, value: structuredClone(mutation.value) };
    const paths = nodePaths(root);
    const path = paths[m.pick % paths.length];
    const parent = path.slice(0, -1).reduce<any>((node, k) => node[k], root);
    const last = path[path.length - 1];
    const node = path.length === 0 ? root : parent[last];
    if (m.kind === 'replace' || (path.length === 0 && m.kind === 'delete')) {
      if (path.length === 0) root = m.value;
      else put(parent, last, m.value);
    } else if (m.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
    } else if (m.kind === 'add') {
      if (node && typeof node === 'object' && !Array.isArray(node))
        put(node as Record<string, unknown>, m.key, m.value);
      else if (Array.isArray(node)) node.push(m.value);
    } else if (path.length === 0) {
      root = [root];
    } else {
      put(parent, last, [node]);
    }
  }
  return root;
}

interface Credentials {
  /** the right Authorization for a path (several right ones where the API takes several) */
  valid(path: string): string[];
  /** right for some other API of the same app */
  crossed: string[];
  /** wrong, but cheap to refuse (malformed, or an unknown token) */
  cheapWrong: string[];
  /** a well-formed user:password that is wrong: each costs the server one scrypt, so they are few */
  costlyWrong: fc.Arbitrary<string>;
}

const MALFORMED_AUTH = [
  'Basic',
  'Basic ',
  'Basic !!!!',
  'Basic ====',
  `Basic ${b64('no-colon-here')}`,
  'basic',
  'Bearer',
  'Bearer ',
  'Bearer a b',
  'Digest username="sms"',
  'Token abc',
  'Basic ' + 'A'.repeat(6000),
  'Bearer ' + 'x'.repeat(6000),
  `Basic ${b64('\u0000')}`,
  'NTLM TlRMTVNTUAAB',
  ',',
  'Basic,Bearer',
];

function requestArb(
  routes: Route[],
  creds: Credentials,
  ids: string[],
  templates: unknown[],
): fc.Arbitrary<FuzzRequest> {
  const idArb = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...TRAVERSAL_IDS) },
    { weight: 2, arbitrary: fc.constantFrom(...ids) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/) },
  );
  const wildcardArb = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...STATIC_FILES) },
    { weight: 2, arbitrary: fc.constantFrom(...WILDCARD_PATHS) },
    { weight: 1, arbitrary: idArb },
  );
  const queryArb = fc.oneof(
    fc.constantFrom(...HOSTILE_QUERIES),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('limit', 'offset', 'state', 'deviceId', 'from', 'to', 'before', 'event', 'x'),
          fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.integer().map(String)),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')),
  );
  const bodyArb = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom(...templates).map((t) => JSON.stringify(t)) },
    {
      weight: 45,
      arbitrary: fc
        .tuple(fc.constantFrom(...templates), fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
        .map(([t, ms]) => JSON.stringify(mutate(t, ms)) ?? 'null'),
    },
    { weight: 8, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 10, arbitrary: fc.oneof(fc.constantFrom(...RAW_BODIES), fc.string({ unit: 'binary', maxLength: 60 })) },
    {
      weight: 5,
      arbitrary: fc
        .tuple(
          fc.constantFrom(deepArray, deepObject, deepMixed),
          fc.integer({ min: 1_000, max: 12_000 }),
          fc.constantFrom(...templates),
          fc.boolean(),
        )
        .map(([deep, n, t, embed]) => {
          const text = JSON.stringify(t);
          return embed && text.startsWith('{') && text !== '{}' ? `${text.slice(0, -1)},"deep":${deep(n)}}` : deep(n);
        }),
    },
    { weight: 10, arbitrary: fc.constant(undefined) },
  );
  const authArb = (path: string) =>
    fc.oneof(
      {
        weight: 50,
        arbitrary: fc.constantFrom(...creds.valid(path)).map((h) => ({ header: h as string | undefined, valid: true })),
      },
      { weight: 10, arbitrary: fc.constant({ header: undefined, valid: false }) },
      {
        weight: 8,
        arbitrary: fc.constantFrom(...creds.crossed).map((h) => ({ header: h as string | undefined, valid: false })),
      },
      {
        weight: 15,
        arbitrary: fc
          .constantFrom(...creds.cheapWrong, ...MALFORMED_AUTH)
          .map((h) => ({ header: h as string | undefined, valid: false })),
      },
      { weight: 1, arbitrary: creds.costlyWrong.map((h) => ({ header: h as string | undefined, valid: false })) },
    );

  return fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        method: fc.oneof(
          { weight: 12, arbitrary: fc.constant(route.method) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'SEARCH', 'PROPFIND'),
          },
        ),
        ids: fc.array(idArb, { minLength: 3, maxLength: 3 }),
        rest: wildcardArb,
        suffix: fc.oneof(
          { weight: 14, arbitrary: fc.constant('') },
          {
            weight: 1,
            arbitrary: fc.constantFrom('/', '//', '/x', '/..', '/%2e%2e', '/%00', '%', '.json', '/' + 'z'.repeat(200)),
          },
        ),
        query: fc.option(queryArb, { freq: 4 }),
        auth: authArb(route.path),
        body: bodyArb,
        contentType: fc.oneof(
          { weight: 5, arbitrary: fc.constant('application/json') },
          { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
          { weight: 1, arbitrary: fc.constant(undefined) },
        ),
        extra: fc.option(
          fc.constantFrom<Record<string, string>>(
            { 'content-encoding': 'gzip' },
            { 'content-encoding': 'identity, br' },
            { accept: 'text/html' },
            { 'x-forwarded-for': '1.2.3.4, ::1' },
            { 'x-http-method-override': 'DELETE' },
            { 'accept-charset': 'utf-16' },
            { 'x-request-id': '\u00e9'.repeat(3) },
            { cookie: 'a=b; c' },
          ),
          { freq: 5 },
        ),
      })
      .map(({ method, ids: [a, b, c], rest, suffix, query, auth, body, contentType, extra }): FuzzRequest => {
        const params = [a, b, c];
        const path = route.path.replace(/:[A-Za-z_]+/g, () => params.shift() ?? 'x').replace(/\*$/, rest) + suffix;
        const headers: Record<string, string> = { ...(extra ?? {}) };
        if (auth.header !== undefined) headers.authorization = auth.header;
        const sendsBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
        if (sendsBody && contentType !== undefined) headers['content-type'] = contentType;
        return {
          route,
          method,
          url: query ? `${path}?${query}` : path,
          headers,
          body: sendsBody ? body : undefined,
          validAuth: auth.valid,
          label: auth.valid ? 'valid auth' : 'other auth',
        };
      }),
  );
}

/** `count` requests, made lazily in batches so that huge bodies are never all in memory at once. */
function* generate(arb: fc.Arbitrary<FuzzRequest>, count: number, seed: number): Generator<FuzzRequest> {
  const BATCH = 200;
  for (let done = 0, batch = 0; done < count; done += BATCH, batch++) {
    yield* fc.sample(arb, { numRuns: Math.min(BATCH, count - done), seed: seed + batch });
  }
}

async function runGenerated(
  requests: Generator<FuzzRequest>,
  send: (r: FuzzRequest) => Promise<Answer>,
  target: string,
  findings: Findings,
): Promise<void> {
  const BATCH = 200;
  for (;;) {
    const batch: FuzzRequest[] = [];
    for (
      let next = requests.next();
      !next.done;
      next = batch.length < BATCH ? requests.next() : { done: true, value: undefined }
    )
      batch.push(next.value);
    if (batch.length === 0) return;
    await runAll(batch, send, target, findings);
  }
}

// ---------------------------------------------------------------------------------------------
// Sweeps: every body route over the limit, deep JSON, every id route with traversal ids

function sizedJson(bytes: number): string {
  const pad = bytes - '{"pad":""}'.length;
  return `{"pad":"${'x'.repeat(pad)}"}`;
}

function bodySweep(
  routes: Route[],
  validAuth: (path: string) => string,
  templates: unknown[],
): { over: FuzzRequest[]; atLimit: FuzzRequest[]; deep: FuzzRequest[] } {
  const over: FuzzRequest[] = [];
  const atLimit: FuzzRequest[] = [];
  const deep: FuzzRequest[] = [];
  const object = templates.find((t) => t && typeof t === 'object' && !Array.isArray(t) && Object.keys(t).length > 0);
  for (const route of routes.filter((r) => BODY_METHODS.has(r.method))) {
    const url = route.path.replace(/:[A-Za-z_]+/g, 'fuzz-id');
    const base = { route, method: route.method, url, validAuth: true };
    const headers = (type: string) => ({ authorization: validAuth(route.path), 'content-type': type });
    for (const [size, type] of [
      [BODY_LIMIT_BYTES + 1, 'application/json'],
      [BODY_LIMIT_BYTES + 1 + Math.floor(Math.random() * 65_536), 'application/json; charset=utf-8'],
      [3 * BODY_LIMIT_BYTES, 'application/json'],
    ] as const) {
      over.push({ ...base, headers: headers(type), body: sizedJson(size), label: `${size} B body` });
    }
    atLimit.push({
      ...base,
      headers: headers('application/json'),
      body: sizedJson(BODY_LIMIT_BYTES),
      label: 'body of exactly the limit',
    });
    for (const [name, body] of [
      ['10,000-deep array', deepArray(10_000)],
      ['10,000-deep object', deepObject(10_000)],
      ['100,000-deep array', deepArray(100_000)],
      ['10,000-deep value in a valid document', `${JSON.stringify(object).slice(0, -1)},"deep":${deepMixed(10_000)}}`],
    ]) {
      deep.push({ ...base, headers: headers('application/json'), body, label: name });
    }
  }
  return { over, atLimit, deep };
}

function traversalSweep(routes: Route[], validAuth: (path: string) => string): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  const ids = [...TRAVERSAL_IDS, '../settings', '..\\..\\settings', './.', '%2e%2e/%2e%2e/settings'];
  for (const route of routes.filter((r) => /[:*]/.test(r.path))) {
    const fillings = route.path.endsWith('*')
      ? [
          ...STATIC_FILES,
          ...WILDCARD_PATHS,
          ...ids,
          'static/../../package.json',
          'static/../../../../../../etc/passwd',
          '../../../../../../etc/passwd',
          'static/....//....//package.json',
          'static/..\\..\\package.json',
          '%252e%252e/%252e%252e/package.json',
        ]
      : ids;
    for (const filling of fillings) {
      const url = route.path.replace(/:[A-Za-z_]+/g, filling).replace(/\*$/, filling);
      out.push({
        route,
        method: route.method,
        url,
        headers: { authorization: validAuth(route.path) },
        validAuth: true,
        label: `${route.path.endsWith('*') ? 'path' : 'id'} ${filling}`,
      });
    }
  }
  return out;
}

/**
 * Bytes that are not valid HTTP, straight onto a socket: the answer must still be a JSON
 * {"message"}. The socket is not half-closed (node drops a request whose client sent FIN first).
 */
async function rawExchange(base: string, bytes: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e),
    );
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });
}

const MALFORMED_HTTP = [
  'GARBAGE\r\n\r\n',
  'GET /health HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ' + 'a'.repeat(20_000) + '\r\n\r\n',
  'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
  'POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
  'POST /webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'GET /he\u0000alth HTTP/1.1\r\nHost: x\r\n\r\n',
];

function checkRawAnswer(text: string): string | undefined {
  if (text === '') return 'closed without an answer';
  const [head, ...rest] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  if (!status) return `not an HTTP answer: ${text.slice(0, 120)}`;
  if (status >= 500) return `${status}: ${text.slice(0, 200)}`;
  if (status >= 400) {
    try {
      const body = JSON.parse(rest.join('\r\n\r\n'));
      if (Object.keys(body).join() !== 'message' || typeof body.message !== 'string')
        return `error body is not exactly {"message"}: ${text.slice(0, 300)}`;
    } catch {
      return `error body is not JSON: ${text.slice(0, 300)}`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

test(
  `hostile clients: ≥ 10,000 generated requests on every route of the Local, 3rdparty and mobile APIs (seed ${SEED})`,
  { timeout: 600_000 },
  async () => {
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);

    // The login throttles are set high: wrong credentials must stay 401 here (429 is tested in device-auth and server-auth).
    const device = await startTestDevice({ loginThrottle: { maxFailures: 1_000_000 } });
    let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
    const findings = new Findings();
    try {
      server = await startTestServer({ loginThrottle: { maxFailures: 1_000_000 }, keepAliveMs: 60_000 });

      // --- the device: some records, so that ids sometimes exist
      const deviceBasic = `Basic ${b64(`${device.username}:${TEST_PASSWORD}`)}`;
      const localHook = await device.api.call('POST', '/webhooks', {
        id: 'fuzz-hook',
        url: 'http://127.0.0.1:9/hook',
        event: 'sms:received',
      });
      assert.equal(localHook.status, 201);
      const localMessage = await device.api.call('POST', '/messages', {
        id: 'fuzz-message',
        message: 'hi',
        phoneNumbers: ['+15550100'],
      });
      assert.equal(localMessage.status, 202);
      const incoming = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'hello' });
      assert.equal(incoming.status, 202);
      const deviceIds = ['fuzz-hook', 'fuzz-message', ...incoming.body.deliveryIds];
      const deviceTemplates: unknown[] = [
        { url: 'http://127.0.0.1:9/hook', event: 'sms:received' },
        { id: 'fuzz-hook-2', url: 'https://127.0.0.1:9/hook', event: 'sms:sent', deviceId: device.deviceId },
        { phoneNumbers: ['+15550100'], message: 'hello' },
        {
          textMessage: { text: 'hi' },
          phoneNumbers: ['+15550100', '15550101'],
          simNumber: 1,
          ttl: 60,
          priority: 1,
          withDeliveryReport: true,
          deviceId: null,
        },
        { phoneNumbers: ['+15550100'], message: 'later', validUntil: '2030-01-01T00:00:00Z', isEncrypted: false },
        { messages: { limit_period: 'PerHour', limit_value: 10, send_interval_min: 1 }, webhooks: { retry_count: 3 } },
        {
          webhooks: { internetRequired: false, retryCount: 2 },
          logs: { lifetimeDays: 7 },
          ping: { intervalSeconds: null },
        },
        {
          messages: { processing_order: 'FIFO', work_hours_enabled: true, work_hours_start: '08:00' },
          encryption: { passphrase: 'p' },
          gateway: { cloud_url: 'https://example.com', private_token: 't', notification_channel: 'SSE_ONLY' },
          receiver: { content_provider_enabled: false },
        },
        { from: '+15550100', text: 'incoming', simNumber: 1 },
        { type: 'DATA_SMS', from: '+15550100', data: 'aGVsbG8=', port: 53739, simNumber: 1 },
        {
          type: 'MMS',
          from: '+15550100',
          subject: 's',
          body: 'b',
          contentClass: 'IMAGE_BASIC',
          attachments: [{ contentType: 'image/png', name: 'a.png', data: 'iVBORw0KGgo=' }],
        },
        { id: '', url: 'http://127.0.0.1:9/hook', event: 'mms:batch:downloaded' },
        { online: true },
        {},
        [],
      ];
      const deviceCreds: Credentials = {
        valid: () => [deviceBasic],
        crossed: [`Bearer ${TEST_PASSWORD}`],
        cheapWrong: [`Basic ${b64(device.username)}`],
        costlyWrong: fc.oneof(
          fc.string({ maxLength: 20 }).map((p) => `Basic ${b64(`${device.username}:${p}x`)}`),
          fc
            .tuple(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 10 }))
            .map(([u, p]) => `Basic ${b64(`${u}:${p}`)}`),
        ),
      };

      // --- the server: a user with two devices, a webhook and a message
      const owner = await newDevice(server, 'fuzz phone');
      const spare = await newDevice(server, 'spare phone', { login: owner.login, password: owner.password });
      const userBasic = basic(owner.login, owner.password);
      const deviceBearer = bearer(owner.registration.token);
      const privateBearer = bearer(server.privateToken!);
      // Rotating a device's token replaces the very credential the requests use: that route gets a
      // device of its own (once rotated, its later requests are 401s, which the invariants allow).
      const rotating = await newDevice(server, 'rotating phone', { login: owner.login, password: owner.password });
      const hook = await call(`${server.thirdPartyUrl}/webhooks`, 'POST', {
        auth: userBasic,
        body: { id: 'fuzz-hook', url: 'https://127.0.0.1:9/hook', event: 'sms:received' },
      });
      assert.equal(hook.status, 201);
      const message = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth: userBasic,
        body: { id: 'fuzz-message', message: 'hi', phoneNumbers: ['+15550100'] },
      });
      assert.equal(message.status, 202);
      const serverIds = ['fuzz-hook', 'fuzz-message', spare.registration.id];
      const serverTemplates: unknown[] = [
        { url: 'https://127.0.0.1:9/hook', event: 'sms:received' },
        { id: 'fuzz-hook-2', url: 'https://127.0.0.1:9/hook', event: 'sms:delivered', deviceId: owner.registration.id },
        { id: '', url: 'https://127.0.0.1:9/hook', event: 'app:started' },
        { phoneNumbers: ['+15550100'], message: 'hello' },
        {
          textMessage: { text: 'hi' },
          phoneNumbers: ['+15550100', '(555) 0101'],
          simNumber: 1,
          ttl: 60,
          priority: -1,
          withDeliveryReport: false,
          deviceId: owner.registration.id,
        },
        { phoneNumbers: ['+15550100'], message: 'later', validUntil: '2030-01-01T00:00:00Z' },
        {
          messages: { limit_period: 'PerDay', limit_value: 100 },
          webhooks: { retry_count: 5, signing_key: 'fuzz-signing-key' },
        },
        { webhooks: { internetRequired: false }, logs: { lifetimeDays: 7 } },
        [
          {
            id: 'fuzz-message',
            state: 'Sent',
            recipients: [{ phoneNumber: '+15550100', state: 'Sent' }],
            states: { Processed: '2030-01-01T00:00:00Z', Sent: '2030-01-01T00:00:01Z' },
          },
        ],
        [{ id: 'unknown', state: 'Failed', recipients: [{ phoneNumber: '+1', state: 'Failed', error: 'x' }] }],
        { name: 'fuzz phone 2', pushToken: null },
        { id: owner.registration.id, pushToken: 'push-token' },
        { currentPassword: 'not-the-password', newPassword: 'a-new-password' },
        {},
        [],
      ];
      const costlyWrongUser = fc.string({ maxLength: 20 }).map((p) => basic(owner.login, `${p}-wrong`));
      const serverCreds: Credentials = {
        // A user's one-time code is for the user alone (Basic); other mobile routes take a device's token,
        // the private token or a user's Basic auth. The sweeps use the first credential of the list.
        valid: (path) =>
          /\/3rdparty\//.test(path) || /\/mobile\/v1\/user\/code$/.test(path)
            ? [userBasic]
            : /\/mobile\//.test(path)
              ? [deviceBearer, deviceBearer, privateBearer, userBasic]
              : [userBasic, deviceBearer],
        crossed: [userBasic, deviceBearer, privateBearer],
        cheapWrong: [
          bearer('x'.repeat(32)),
          bearer(owner.registration.token.slice(0, -1)),
          `Basic ${b64(owner.login)}`,
        ],
        costlyWrong: costlyWrongUser,
      };

      const deviceRoutes = routesOf(device.app);
      const ROTATES_DEVICE_TOKEN = /^(\/api)?\/mobile\/v1\/device\/token$/;
      const rotationRoutes = routesOf(server.app).filter((r) => ROTATES_DEVICE_TOKEN.test(r.path));
      const serverRoutes = routesOf(server.app).filter((r) => !ROTATES_DEVICE_TOKEN.test(r.path));
      assert.equal(rotationRoutes.length, 2, 'POST /mobile/v1/device/token and its /api alias');
      // The enumeration itself must work, or the fuzz would pass on nothing.
      for (const expected of [
        'POST /webhooks',
        'DELETE /webhooks/:id',
        'GET /messages/:id',
        'DELETE /messages/:id',
        'DELETE /message/:id',
        'PATCH /settings',
        'POST /deliveries/:id/redeliver',
        'POST /sim/v1/incoming',
      ]) {
        assert.ok(
          deviceRoutes.some((r) => `${r.method} ${r.path}` === expected),
          `device route ${expected} not found in:\n${device.app.printRoutes({ commonPrefix: true })}`,
        );
      }
      for (const prefix of ['/3rdparty/v1', '/api/3rdparty/v1']) {
        for (const r of [
          'POST /webhooks',
          'DELETE /webhooks/:id',
          'GET /messages/:id',
          'DELETE /messages/:id',
          'DELETE /message/:id',
          'DELETE /devices/:id',
          'PUT /settings',
        ]) {
          const [method, path] = r.split(' ');
          assert.ok(
            serverRoutes.some((x) => x.method === method && x.path === prefix + path),
            `server route ${method} ${prefix}${path} not found`,
          );
        }
      }
      for (const r of [
        'POST /mobile/v1/device',
        'PATCH /mobile/v1/message',
        'GET /mobile/v1/webhooks',
        'GET /mobile/v1/events',
        'PATCH /mobile/v1/user/password',
      ]) {
        assert.ok(
          serverRoutes.some((x) => `${x.method} ${x.path}` === r),
          `server route ${r} not found`,
        );
      }

      const deviceArb = requestArb(deviceRoutes, deviceCreds, deviceIds, deviceTemplates);
      const serverArb = requestArb(serverRoutes, serverCreds, serverIds, serverTemplates);
      const rotationArb = requestArb(
        rotationRoutes,
        { ...serverCreds, valid: () => [bearer(rotating.registration.token)], crossed: [userBasic, privateBearer] },
        serverIds,
        serverTemplates,
      );
      const started = Date.now();

      // 1. generated requests through inject (fast), then a sample over real HTTP
      await runGenerated(generate(deviceArb, INJECTED.device, SEED), (r) => inject(device.app, r), 'device', findings);
      await runGenerated(
        generate(serverArb, INJECTED.server, SEED + 1_000),
        (r) => inject(server!.app, r),
        'server',
        findings,
      );
      await runGenerated(
        generate(rotationArb, Math.round(200 * SCALE), SEED + 1_500),
        (r) => inject(server!.app, r),
        'server',
        findings,
      );
      await runGenerated(
        generate(deviceArb, OVER_HTTP.device, SEED + 2_000),
        (r) => overHttp(device.url, r),
        'device/http',
        findings,
      );
      await runGenerated(
        generate(serverArb, OVER_HTTP.server, SEED + 3_000),
        (r) => overHttp(server!.url, r),
        'server/http',
        findings,
      );

      // 2. over the limit (413), at the limit (not 413), deep JSON, on every body route
      const sizeChecks: { target: string; r: FuzzRequest; a: Answer | Error }[] = [];
      const checkingSize = (target: string, send: (r: FuzzRequest) => Promise<Answer>) => async (r: FuzzRequest) => {
        const a = await withTimeout(send(r), describe(r)).catch((e: Error) => e);
        sizeChecks.push({ target, r, a });
        if (a instanceof Error) throw a;
        return a;
      };
      for (const [target, app, base, sweep] of [
        ['device', device.app, device.url, bodySweep(deviceRoutes, () => deviceBasic, deviceTemplates)],
        [
          'server',
          server.app,
          server.url,
          bodySweep(serverRoutes, (path) => serverCreds.valid(path)[0], serverTemplates),
        ],
      ] as const) {
        await runAll(
          sweep.over,
          checkingSize(target, (r) => inject(app, r)),
          target,
          findings,
        );
        await runAll(
          sweep.atLimit,
          checkingSize(target, (r) => inject(app, r)),
          target,
          findings,
        );
        await runAll(sweep.deep, (r) => inject(app, r), target, findings);
        // the same over real HTTP, with a Content-Length and streamed without one
        const sample = sweep.over.filter((_, i) => i % 3 === 0);
        await runAll(
          sample,
          checkingSize(`${target}/http`, (r) => streamed(base, r, true)),
          `${target}/http`,
          findings,
        );
        await runAll(
          sample.map((r) => ({ ...r, label: `${r.label}, chunked` })),
          checkingSize(`${target}/http`, (r) => streamed(base, r, false)),
          `${target}/http`,
          findings,
        );
        await runAll(
          sweep.atLimit.slice(0, 2),
          checkingSize(`${target}/http`, (r) => streamed(base, r, true)),
          `${target}/http`,
          findings,
        );
      }
      for (const { target, r, a } of sizeChecks) {
        if (a instanceof Error) continue; // already recorded as a violation
        const over = Buffer.byteLength(r.body!) > BODY_LIMIT_BYTES;
        if (over && a.status !== 413) findings.flag(target, r, `${a.status}, not 413`);
        if (!over && a.status === 413) findings.flag(target, r, '413 for a body of exactly the limit');
      }

      // 3. traversal and hostile ids in every id route, over real HTTP (node:http sends the path as is)
      for (const [target, base, routes, auth] of [
        ['device/http', device.url, deviceRoutes, () => deviceBasic],
        ['server/http', server.url, serverRoutes, (path: string) => serverCreds.valid(path)[0]],
      ] as const) {
        await runAll(
          traversalSweep(routes, auth),
          async (r) => {
            const a = await overHttp(base, r);
            // Nothing has these ids: a read or an action by id finds nothing (a DELETE of a webhook is
            // 204 either way). A static route may serve its own files (LEAK_MARKERS guards the rest).
            if (!r.route.path.endsWith('*') && a.status < 300 && !(r.method === 'DELETE' && a.status === 204)) {
              findings.flag(target, r, `${a.status} ${a.body.slice(0, 200)} (an id that exists nowhere was found)`);
            }
            return a;
          },
          target,
          findings,
        );
      }

      // 4. every hostile query string on every GET route, with valid credentials; and HEAD of every
      //    GET route over real HTTP (an event stream must answer HEAD too, not hold it open)
      for (const [target, app, base, routes, auth] of [
        ['device', device.app, device.url, deviceRoutes, () => deviceBasic],
        ['server', server.app, server.url, serverRoutes, (path: string) => serverCreds.valid(path)[0]],
      ] as const) {
        const gets = routes.filter((r) => r.method === 'GET');
        const request = (route: Route, method: string, url: string, label: string): FuzzRequest => ({
          route,
          method,
          url,
          headers: { authorization: auth(route.path) },
          validAuth: true,
          label,
        });
        const queries = gets
          .filter((r) => !/[:*]/.test(r.path))
          .flatMap((route) => HOSTILE_QUERIES.map((q) => request(route, 'GET', `${route.path}?${q}`, 'query')));
        await runAll(queries, (r) => inject(app, r), target, findings);
        const heads = gets.map((route) =>
          request(route, 'HEAD', route.path.replace(/:[A-Za-z_]+/g, 'x').replace(/\*$/, 'x'), 'HEAD'),
        );
        await runAll(heads, (r) => overHttp(base, r), `${target}/http`, findings);
      }

      // 5. bytes that are not HTTP at all
      for (const base of [device.url, server.url]) {
        for (const bytes of MALFORMED_HTTP) {
          const problem = checkRawAnswer(await rawExchange(base, bytes));
          findings.count++;
          if (problem)
            findings.violations.push({
              key: `raw ${bytes.slice(0, 30)}`,
              text: `raw ${base} ${JSON.stringify(bytes.slice(0, 80))} → ${problem}`,
            });
        }
      }

      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const statuses = [...findings.statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      console.log(`fuzz seed ${SEED}: ${findings.count} requests in ${seconds} s; ${statuses}`);

      // The apps are still up and still right.
      assert.equal((await fetch(`${device.url}/health`)).status, 200);
      assert.equal((await device.api.call('GET', '/webhooks')).status, 200);
      assert.equal((await call(`${server.url}/health`, 'GET')).status, 200);
      assert.equal((await call(`${server.thirdPartyUrl}/devices`, 'GET', { auth: userBasic })).status, 200);
      assert.equal((await call(`${server.mobileUrl}/device`, 'GET', { auth: deviceBearer })).status, 200);

      assert.deepEqual(crashes, [], 'uncaught exceptions or unhandled rejections during the run');
      findings.assertClean();
      assert.ok(findings.count >= 10_000 * Math.min(1, SCALE), `only ${findings.count} requests`);
      // Every route got its share, with the right credentials too, and the fuzz got past auth on each.
      for (const route of [
        ...deviceRoutes.map((r) => `device ${r.method} ${r.path}`),
        ...serverRoutes.map((r) => `server ${r.method} ${r.path}`),
      ]) {
        const seen = findings.perRoute.get(route);
        assert.ok(seen && seen.sent >= 20, `${route}: only ${seen?.sent ?? 0} requests`);
        assert.ok(seen.validAuth >= 5, `${route}: only ${seen.validAuth} with valid credentials`);
        assert.ok(seen.reached >= 1, `${route}: no generated request got past auth and routing`);
      }
    } finally {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
      agent.destroy();
      await server?.cleanup();
      await device.cleanup();
    }
  },
);
