import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, newDevice, call, basic, type TestServer } from './helpers.ts';

describe('GET /3rdparty/v1/messages on the server', () => {
  let server: TestServer;
  let auth: string;
  let deviceId: string;
  before(async () => {
    server = await startTestServer();
    const linked = await newDevice(server);
    auth = basic(linked.login, linked.password);
    deviceId = linked.registration.id;
    for (let i = 0; i < 3; i++)
      await call(server.thirdPartyUrl + '/messages', 'POST', {
        auth,
        body: { id: `m-${i}`, message: `hello ${i}`, phoneNumbers: ['+15551230004'] },
      });
  });
  after(() => server.cleanup());

  test('includeContent adds the text; sort=created_at lists oldest first', async () => {
    const plain = await call(server.thirdPartyUrl + '/messages', 'GET', { auth });
    assert.deepEqual(
      plain.body.map((m: { id: string }) => m.id),
      ['m-2', 'm-1', 'm-0'],
    );
    assert.equal(plain.body[0].textMessage, undefined);
    const withContent = await call(server.thirdPartyUrl + '/messages?includeContent=true&sort=created_at', 'GET', {
      auth,
    });
    assert.deepEqual(
      withContent.body.map((m: { id: string; textMessage: { text: string } }) => [m.id, m.textMessage.text]),
      [
        ['m-0', 'hello 0'],
        ['m-1', 'hello 1'],
        ['m-2', 'hello 2'],
      ],
    );
    const newest = await call(server.thirdPartyUrl + '/messages?sort=-created_at&limit=1', 'GET', { auth });
    assert.deepEqual(
      newest.body.map((m: { id: string }) => m.id),
      ['m-2'],
    );
    assert.equal(newest.headers.get('x-total-count'), '3');
    const byDevice = await call(server.thirdPartyUrl + `/messages?deviceId=${deviceId}`, 'GET', { auth });
    assert.equal(byDevice.body.length, 3);
    // the singular alias takes the same query
    const alias = await call(server.thirdPartyUrl + '/message?includeContent=true&limit=1', 'GET', { auth });
    assert.equal(alias.body[0].textMessage.text, 'hello 2');
  });

  test('malformed filters are 400 with a message, limit at most 100 as upstream', async () => {
    for (const query of [
      'deviceId=not-an-id',
      'deviceId=' + 'x'.repeat(22),
      'limit=101',
      'limit=500',
      'sort=created',
      'includeContent=yes',
      'from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z',
      'from=soon',
    ]) {
      const reply = await call(server.thirdPartyUrl + `/messages?${query}`, 'GET', { auth });
      assert.equal(reply.status, 400, query);
      assert.equal(typeof reply.body.message, 'string', query);
    }
    const hundred = await call(server.thirdPartyUrl + '/messages?limit=100', 'GET', { auth });
    assert.equal(hundred.status, 200);
  });
});
