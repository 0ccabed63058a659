import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, call } from './helpers.ts';

test('health answers without credentials on every path, and 503 when the database is gone', async () => {
  const server = await startTestServer();
  try {
    for (const path of [
      '/health',
      '/health/ready',
      '/health/startup',
      '/3rdparty/v1/health',
      '/3rdparty/v1/health/startup',
      '/api/3rdparty/v1/health/startup',
      '/api/3rdparty/v1/health',
      '/api/3rdparty/v1/health/ready',
    ]) {
      const reply = await call(server.url + path, 'GET');
      assert.equal(reply.status, 200, path);
      assert.equal(reply.body.status, 'pass', path);
      assert.deepEqual(Object.keys(reply.body).sort(), ['checks', 'releaseId', 'status', 'version'], path);
      assert.deepEqual(Object.keys(reply.body.checks), ['db:ping'], path);
      assert.deepEqual(
        Object.keys(reply.body.checks['db:ping']).sort(),
        ['description', 'observedUnit', 'observedValue', 'status'],
        path,
      );
    }
    const live = await call(server.url + '/health/live', 'GET');
    assert.deepEqual([live.status, live.body.status, live.body.checks], [200, 'pass', {}]);

    await server.context.store.close(); // the database goes away under a running server
    const down = await call(server.url + '/health', 'GET');
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'fail');
    assert.equal(down.body.checks['db:ping'].status, 'fail');
    assert.equal((await call(server.url + '/health/ready', 'GET')).status, 503);
    assert.equal((await call(server.url + '/health/startup', 'GET')).status, 503);
    assert.equal((await call(server.url + '/health/live', 'GET')).status, 200, 'the process itself is alive');
  } finally {
    await server.cleanup();
  }
});
