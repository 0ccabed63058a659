import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDevice, eventually } from '../helpers/device.ts';

describe('GET /inbox on the device', () => {
  let device: Awaited<ReturnType<typeof startTestDevice>>;
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  let mmsId: string;

  before(async () => {
    device = await startTestDevice({ simCount: 2 });
    for (const [from, text, simNumber] of [
      ['+15550001111', 'first', 1],
      ['+15550002222', 'second', 2],
      ['+15550001111', 'third', 1],
    ] as const) {
      const reply = await device.api.call('POST', '/sim/v1/incoming', { from, text, simNumber });
      assert.equal(reply.status, 202);
    }
    const data = await device.api.call('POST', '/sim/v1/incoming', {
      type: 'DATA_SMS',
      from: '+15550004444',
      data: Buffer.from([1, 2, 3]).toString('base64'),
      port: 5000,
    });
    assert.equal(data.status, 202);
    // An MMS: the notification (MMS), then its download with two parts (MMS_DOWNLOADED).
    const mms = await device.api.call('POST', '/sim/v1/incoming', {
      type: 'MMS',
      from: '+15550003333',
      subject: 'holiday',
      body: 'see the photo',
      attachments: [
        { contentType: 'text/plain', name: 'text.txt', data: Buffer.from('see the photo').toString('base64') },
        { contentType: 'image/png', name: 'beach "1".png', data: png.toString('base64') },
      ],
    });
    assert.equal(mms.status, 202);
    await eventually(
      async () => (await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED')).body.length === 1,
      'the download',
    );
    mmsId = (await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED')).body[0].id;
  });
  after(() => device.cleanup());

  test('lists what arrived, newest first, with X-Total-Count and the fields of the app', async () => {
    const all = await device.api.call('GET', '/inbox');
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('x-total-count'), '6');
    assert.deepEqual(
      all.body.map((m: { type: string; contentPreview: string }) => [m.type, m.contentPreview]),
      [
        ['MMS_DOWNLOADED', 'holiday'],
        ['MMS', 'holiday'],
        ['DATA_SMS', 'AQID'],
        ['SMS', 'third'],
        ['SMS', 'second'],
        ['SMS', 'first'],
      ],
    );
    const second = all.body[4];
    assert.equal(second.type, 'SMS');
    assert.equal(second.sender, '+15550002222');
    assert.equal(second.simNumber, 2);
    assert.match(second.id, /^[A-Za-z0-9_-]{21}$/);
    assert.match(second.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00$/, 'in the device time zone');
    assert.equal(second.recipient, '+15550100002', "the receiving SIM's own number");
    assert.equal(second.attachments, undefined, 'no parts unless asked for');
  });

  test('filters by type, sender and time, and pages', async () => {
    const sms = await device.api.call('GET', '/inbox?type=SMS&limit=2&offset=1');
    assert.equal(sms.headers.get('x-total-count'), '3');
    assert.deepEqual(
      sms.body.map((m: { contentPreview: string }) => m.contentPreview),
      ['second', 'first'],
    );
    const fromOne = await device.api.call('GET', '/inbox?sender=%2B15550001111');
    assert.deepEqual(
      fromOne.body.map((m: { contentPreview: string }) => m.contentPreview),
      ['third', 'first'],
    );
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    assert.equal((await device.api.call('GET', `/inbox?from=${future}`)).headers.get('x-total-count'), '0');
    assert.equal((await device.api.call('GET', `/inbox?to=${future}`)).headers.get('x-total-count'), '6');
    const mms = await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED');
    assert.deepEqual(
      mms.body.map((m: { id: string }) => m.id),
      [mmsId],
    );
  });

  test('includeAttachments lists the parts; each part is served with its content type', async () => {
    const listed = await device.api.call('GET', '/inbox?type=MMS_DOWNLOADED&includeAttachments=true');
    const parts = listed.body[0].attachments;
    assert.deepEqual(parts, [
      {
        partId: 1,
        name: 'text.txt',
        size: 13,
        contentType: 'text/plain',
        url: `/inbox/${mmsId}/attachments/1`,
      },
      {
        partId: 2,
        name: 'beach "1".png',
        size: png.length,
        contentType: 'image/png',
        url: `/inbox/${mmsId}/attachments/2`,
      },
    ]);
    const sms = await device.api.call('GET', '/inbox?type=SMS&includeAttachments=true&limit=1');
    assert.deepEqual(sms.body[0].attachments, []);

    const response = await fetch(device.url + parts[1].url, { headers: { authorization: device.api.authorization } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/png');
    assert.equal(
      response.headers.get('content-disposition'),
      `attachment; filename="beach _1_.png"; filename*=UTF-8''beach%20%221%22.png`,
    );
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), png);

    const one = await device.api.call('GET', `/inbox/${mmsId}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.attachments.length, 2);
  });

  test('unknown messages and parts are 404, bad input 400, always with a message', async () => {
    for (const [path, status] of [
      [`/inbox/${mmsId}/attachments/7`, 404],
      ['/inbox/nope/attachments/1', 404],
      ['/inbox/nope', 404],
      [`/inbox/${mmsId}/attachments/first`, 400],
      [`/inbox/${mmsId}/attachments/-1`, 400],
      ['/inbox?type=FAX', 400],
      ['/inbox?limit=501', 400],
      ['/inbox?offset=-1', 400],
      ['/inbox?from=today', 400],
      ['/inbox?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', 400],
      ['/inbox?includeAttachments=please', 400],
      ['/inbox?deviceId=another', 400],
    ] as const) {
      const reply = await device.api.call('GET', path);
      assert.equal(reply.status, status, path);
      assert.equal(typeof reply.body.message, 'string', path);
    }
  });

  test('the inbox survives a restart', async () => {
    const dataDir = device.context.db.name.replace(/\/device\.db$/, '');
    await device.stop();
    const again = await startTestDevice({ dataDir, simCount: 2 });
    try {
      const all = await again.api.call('GET', '/inbox');
      assert.equal(all.headers.get('x-total-count'), '6');
    } finally {
      await again.stop();
    }
  });
});
