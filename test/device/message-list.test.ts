import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { parseSendRequest } from '../../src/shared/send-request.ts';

describe('GET /messages on the device', () => {
  let device: Awaited<ReturnType<typeof startTestDevice>>;
  before(async () => {
    device = await startTestDevice();
    for (let i = 0; i < 5; i++) {
      const sent = await device.api.call('POST', '/message', {
        id: `local-${i}`,
        message: `text ${i}`,
        // the third one is refused by the virtual carrier, so it ends Failed
        phoneNumbers: [i === 2 ? '+15550000001' : '+15551230000'],
      });
      assert.equal(sent.status, 202);
    }
    // a message the server handed over is not the Local API's: not listed
    device.context.sms.enqueue({
      ...parseSendRequest({ id: 'from-cloud', message: 'c', phoneNumbers: ['+15551230000'] }, { now: Date.now() }),
      source: 'Cloud',
    });
    await eventually(async () => {
      const failed = await device.api.call('GET', '/messages?state=Failed');
      return failed.body.length === 1;
    }, 'the refused message to fail');
  });
  after(() => device.cleanup());

  test('pages newest first with X-Total-Count; sort=created_at turns it around', async () => {
    const first = await device.api.call('GET', '/messages?limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-total-count'), '5');
    assert.deepEqual(
      first.body.map((m: { id: string }) => m.id),
      ['local-4', 'local-3'],
    );
    assert.equal(first.body[0].textMessage, undefined, 'no content unless asked for');
    const last = await device.api.call('GET', '/messages?limit=2&offset=4');
    assert.deepEqual(
      last.body.map((m: { id: string }) => m.id),
      ['local-0'],
    );
    const ascending = await device.api.call('GET', '/messages?sort=created_at&limit=3&includeContent=true');
    assert.deepEqual(
      ascending.body.map((m: { id: string; textMessage: { text: string } }) => [m.id, m.textMessage.text]),
      [
        ['local-0', 'text 0'],
        ['local-1', 'text 1'],
        ['local-2', 'text 2'],
      ],
    );
    assert.equal(ascending.body[0].deviceId, device.deviceId);
  });

  test('filters by state and by creation time', async () => {
    const failed = await device.api.call('GET', '/messages?state=Failed');
    assert.deepEqual(
      failed.body.map((m: { id: string }) => m.id),
      ['local-2'],
    );
    assert.equal(failed.headers.get('x-total-count'), '1');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await device.api.call('GET', `/messages?from=${encodeURIComponent(future)}`);
    assert.deepEqual(none.body, []);
    assert.equal(none.headers.get('x-total-count'), '0');
    const before = await device.api.call('GET', `/messages?to=${encodeURIComponent(future)}`);
    assert.equal(before.headers.get('x-total-count'), '5');
    const own = await device.api.call('GET', `/messages?deviceId=${device.deviceId}&limit=1`);
    assert.equal(own.status, 200);
  });

  test('bad filters are 400 with a message', async () => {
    for (const query of [
      'limit=101',
      'limit=0',
      'offset=-1',
      'state=Lost',
      'from=yesterday',
      'to=2030-02-30T00:00:00Z',
      'from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z',
      'sort=name',
      'includeContent=maybe',
      'deviceId=someone-else',
    ]) {
      const reply = await device.api.call('GET', `/messages?${query}`);
      assert.equal(reply.status, 400, query);
      assert.equal(typeof reply.body.message, 'string', query);
    }
  });
});
