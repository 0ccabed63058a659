import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Histogram, Registry } from 'prom-client';
import { appLoggingOptions, hotLogLine, plainFormat } from '../../src/shared/logger.ts';
import { SeriesHistogram } from '../../src/shared/metrics.ts';

const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');

/** A pino logger writing into an array of lines. */
function capturingLogger(options: pino.LoggerOptions = {}): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: pino({ level: 'info', name: 'unit', base: { name: 'unit' }, ...options }, destination), lines };
}

const awkwardFields = {
  method: 'GET',
  url: '/3rdparty/v1/messages/"quoted"\\back\nslash?x=ü&y=\u2028',
  route: undefined,
  status: 404,
  ms: 0.1,
  error: null,
};

test('hotLogLine writes the same line pino would, bindings of a child included', async () => {
  const { logger, lines } = capturingLogger();
  plainFormat(logger);
  const child = logger.child({ reqId: 'req-"1"' });
  const write = hotLogLine(logger);
  child.info(awkwardFields, 'request');
  write(child, 'info', awkwardFields, 'request');
  child.warn({ attempt: 2 }, 'attempt');
  write(child, 'warn', { attempt: 2 }, 'attempt');
  write(child, 'info', {}, 'no fields');
  // every kind of value a field may hold, and a key and a message that need escaping
  const kinds = {
    yes: true,
    no: false,
    notANumber: Number.NaN,
    infinite: -Infinity,
    negativeZero: -0,
    big: 1e21,
    nested: { list: [1, 'two', null], when: new Date(0) },
    fn: () => 1,
    'a "key"\t': 'tab\there',
    emoji: '📱',
    quote: 'say "hi"',
    backslash: 'C:\\dir',
    control: 'bell\u0007',
    delete: 'del\u007f',
  };
  child.info(kinds, 'message "quoted"\n');
  write(child, 'info', kinds, 'message "quoted"\n');
  // a child with serializers (as Fastify makes its app logger): a field they handle goes through pino
  const serializing = logger.child({}, { serializers: { req: () => 'serialized' } });
  const writeSerializing = hotLogLine(serializing);
  writeSerializing(serializing, 'info', { req: { raw: true }, n: 1 }, 'with req');
  writeSerializing(serializing, 'info', { n: 2 }, 'without req');
  serializing.info({ n: 2 }, 'without req');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 10);
  assert.equal(JSON.parse(lines[7]).req, 'serialized');
  assert.equal(withoutTime(lines[8]), withoutTime(lines[9]));
  assert.equal(withoutTime(lines[6]), withoutTime(lines[5]), 'every kind of value');
  // the same text apart from the time
  assert.equal(withoutTime(lines[1]), withoutTime(lines[0]));
  assert.equal(withoutTime(lines[3]), withoutTime(lines[2]));
  assert.deepEqual(
    { ...JSON.parse(lines[4]), time: 0 },
    { level: 30, time: 0, name: 'unit', reqId: 'req-"1"', msg: 'no fields' },
  );
  assert.ok(Math.abs(JSON.parse(lines[1]).time - Date.now()) < 5_000);
});

test('hotLogLine respects the level, and leaves loggers it does not know to pino', async () => {
  const quiet = capturingLogger({ level: 'warn' });
  plainFormat(quiet.logger);
  hotLogLine(quiet.logger)(quiet.logger, 'info', { a: 1 }, 'dropped');
  hotLogLine(quiet.logger)(quiet.logger, 'warn', { a: 2 }, 'kept');
  // a logger with a formatter is not marked plain: its own formatting applies
  const custom = capturingLogger({ formatters: { level: (label) => ({ severity: label.toUpperCase() }) } });
  hotLogLine(custom.logger)(custom.logger, 'info', { a: 3 }, 'formatted');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    quiet.lines.map((line) => JSON.parse(line).msg),
    ['kept'],
  );
  assert.equal(JSON.parse(custom.lines[0]).severity, 'INFO');
});

test("each request's logger (Fastify's childLoggerFactory) logs exactly what pino's child would", async () => {
  const { logger, lines } = capturingLogger({ serializers: { err: pino.stdSerializers.err } });
  plainFormat(logger);
  const makeChild = appLoggingOptions(logger).childLoggerFactory as unknown as (
    logger: pino.Logger,
    bindings: Record<string, unknown>,
    options: object,
  ) => pino.Logger;
  const reqId = 'caller\'s "id"\n\u2028';
  const made = makeChild(logger, { reqId }, {});
  const pinos = logger.child({ reqId });
  for (const child of [made, pinos]) {
    child.info(awkwardFields, 'request');
    child.error({ err: new Error('it broke') }, 'failed');
    child.child({ step: 'inner' }).warn('nested');
    child.debug('below the level');
  }
  logger.level = 'error';
  made.warn('after the parent went quieter');
  assert.equal(made.isLevelEnabled('warn'), false);
  await new Promise((resolve) => setImmediate(resolve));
  const withoutStack = (line: string) => withoutTime(line).replace(/"stack":"[^"]*"/, '"stack":""');
  assert.equal(lines.length, 6);
  assert.deepEqual(lines.slice(0, 3).map(withoutStack), lines.slice(3).map(withoutStack));
  assert.equal(JSON.parse(lines[0]).reqId, reqId);
  assert.equal(JSON.parse(lines[1]).err.message, 'it broke');
  assert.equal(JSON.parse(lines[2]).step, 'inner');

  // other loggers and other bindings go through pino
  const custom = capturingLogger({ formatters: { level: (label) => ({ severity: label.toUpperCase() }) } });
  const customMake = appLoggingOptions(custom.logger).childLoggerFactory as unknown as typeof makeChild;
  customMake(custom.logger, { reqId: 'r1' }, {}).info('formatted');
  makeChild(logger, { reqId: 'r2', extra: 1 }, {}).error('two bindings');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(JSON.parse(custom.lines[0]).severity, 'INFO');
  assert.equal(JSON.parse(custom.lines[0]).reqId, 'r1');
  assert.equal(JSON.parse(lines[6]).extra, 1);
});

test("SeriesHistogram exports exactly what prom-client's Histogram does for the same observations", async () => {
  const reference = new Registry();
  const ours = new Registry();
  const buckets = [0.001, 0.005, 0.01];
  const histogram = new Histogram({
    name: 'x_seconds',
    help: 'help',
    labelNames: ['method', 'route', 'status_code'],
    buckets,
    registers: [reference],
  });
  const series = new SeriesHistogram('x_seconds', 'help', ['method', 'route', 'status_code'], buckets, ours);
  const observations = [
    ['GET', '/a', '200', 0.0005],
    ['GET', '/a', '200', 0.001], // on a bound: counted in that bucket
    ['GET', '/a', '200', 0.02], // above every bound: +Inf only
    ['POST', '/b"x\\', '500', 0.003],
  ] as const;
  for (const [method, route, status, seconds] of observations) {
    histogram.observe({ method, route, status_code: status }, seconds);
    series.seriesOf(method, route, status).observe(seconds);
  }
  assert.equal(await ours.metrics(), await reference.metrics());
  assert.deepEqual(series.counts(), [
    { labels: { method: 'GET', route: '/a', status_code: '200' }, value: 3 },
    { labels: { method: 'POST', route: '/b"x\\', status_code: '500' }, value: 1 },
  ]);
  // resetMetrics() zeroes, and the series the caller holds keeps counting
  ours.resetMetrics();
  reference.resetMetrics();
  const kept = series.seriesOf('GET', '/a', '200');
  kept.observe(0.002);
  histogram.observe({ method: 'GET', route: '/a', status_code: '200' }, 0.002);
  assert.match(await ours.metrics(), /x_seconds_count\{method="GET",route="\/a",status_code="200"\} 1\n/);
  assert.match(await ours.metrics(), /x_seconds_bucket\{le="0.005",method="GET",route="\/a",status_code="200"\} 1\n/);
});

test('BatchedLogDestination: every line, in order, by batch, by timer and on exit', async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const { BatchedLogDestination } = await import('../../src/shared/logger.ts');
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-log-'));
  try {
    // in this process: 20,000 lines cross the 8 KiB threshold many times; the last few wait for the timer
    const file = join(dir, 'a.log');
    const destination = new BatchedLogDestination(file);
    for (let i = 0; i < 20_000; i++) destination.write(`{"n":${i},"text":"line ü ${i}"}\n`);
    destination.write('{"n":"last"}\n');
    const deadline = Date.now() + 5_000;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      if (lines.length === 20_001) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(lines.length, 20_001);
    assert.deepEqual(
      lines.slice(0, 20_000).map((line) => JSON.parse(line).n),
      Array.from({ length: 20_000 }, (_, i) => i),
    );
    assert.equal(JSON.parse(lines[1234]).text, 'line ü 1234');

    // a process that exits at once (process.exit) still leaves the lines that were waiting (under 8 KiB:
    // none in flight, whose end would be the thread pool's)
    const child = join(dir, 'b.log');
    const script = `const { BatchedLogDestination } = await import(${JSON.stringify(new URL('../../src/shared/logger.ts', import.meta.url).href)});
      const d = new BatchedLogDestination(${JSON.stringify(child)});
      for (let i = 0; i < 500; i++) d.write('{"n":' + i + '}\\n');
      process.exit(0);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const written = readFileSync(child, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line).n);
    assert.deepEqual(
      written,
      Array.from({ length: 500 }, (_, i) => i),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
