import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startTestDevice, tempDir } from '../helpers/device.ts';
import { startTestServer, newDevice, call, basic, type TestServer } from '../server/helpers.ts';

/**
 * The rules of a send request, the same on the device's Local API and the server's 3rdparty API
 * (one parser): what is refused (400 naming the rule, 409 for a reused id) and what is stored.
 */
const NUMBER = '+15551234567';
const BAD: [string, Record<string, unknown>, RegExp, string?][] = [
  ['no content', { phoneNumbers: [NUMBER] }, /exactly one of textMessage \{text\}, dataMessage/],
  [
    'text and data',
    { textMessage: { text: 'a' }, dataMessage: { data: 'AQI=', port: 53 }, phoneNumbers: [NUMBER] },
    /exactly one of textMessage, dataMessage and message, not textMessage and dataMessage/,
  ],
  [
    'message and data',
    { message: 'a', dataMessage: { data: 'AQI=', port: 53 }, phoneNumbers: [NUMBER] },
    /not dataMessage and message/,
  ],
  ['empty text', { textMessage: { text: '' }, phoneNumbers: [NUMBER] }, /text message is empty/],
  ['data not base64', { dataMessage: { data: 'not base64!', port: 53 }, phoneNumbers: [NUMBER] }, /base64/],
  ['data empty', { dataMessage: { data: '', port: 53 }, phoneNumbers: [NUMBER] }, /base64/],
  ['port too high', { dataMessage: { data: 'AQI=', port: 65536 }, phoneNumbers: [NUMBER] }, /port/],
  ['port negative', { dataMessage: { data: 'AQI=', port: -1 }, phoneNumbers: [NUMBER] }, /port/],
  ['port missing', { dataMessage: { data: 'AQI=' }, phoneNumbers: [NUMBER] }, /port/],
  ['no numbers', { message: 'a', phoneNumbers: [] }, /phoneNumbers/],
  [
    '101 numbers',
    { message: 'a', phoneNumbers: Array.from({ length: 101 }, (_, i) => `+1555000${i}`) },
    /phoneNumbers/,
  ],
  ['a number of 129 characters', { message: 'a', phoneNumbers: ['1'.repeat(129)] }, /phoneNumbers/],
  ['not a number', { message: 'a', phoneNumbers: ['call me'] }, /"call me" is not a phone number.*skipPhoneValidation/],
  [
    'the same number twice, written differently',
    { message: 'a', phoneNumbers: [NUMBER, '+1 (555) 123-4567'] },
    /^failed to validate: Key: 'Message\.PhoneNumbers' Error:Field validation for 'PhoneNumbers' failed on the 'unique' tag$/,
  ],
  [
    'the same number twice, validation skipped',
    { message: 'a', phoneNumbers: ['abc', 'abc'] },
    /failed on the 'unique' tag$/,
    '?skipPhoneValidation=true',
  ],
  [
    'ttl and validUntil',
    { message: 'a', phoneNumbers: [NUMBER], ttl: 60, validUntil: '2030-01-01T00:00:00Z' },
    /ttl or validUntil, not both/,
  ],
  [
    'scheduleAt not a date',
    { message: 'a', phoneNumbers: [NUMBER], scheduleAt: 'tomorrow' },
    /scheduleAt must be an ISO 8601/,
  ],
  [
    'scheduleAt 30 February',
    { message: 'a', phoneNumbers: [NUMBER], scheduleAt: '2030-02-30T00:00:00Z' },
    /scheduleAt/,
  ],
  ['priority 128', { message: 'a', phoneNumbers: [NUMBER], priority: 128 }, /priority/],
  ['priority -129', { message: 'a', phoneNumbers: [NUMBER], priority: -129 }, /priority/],
  ['priority not an integer', { message: 'a', phoneNumbers: [NUMBER], priority: 1.5 }, /priority/],
  ['an id of 37 characters', { id: 'x'.repeat(37), message: 'a', phoneNumbers: [NUMBER] }, /id/],
];

/** One runtime's send route, as the tests below use it. */
interface Runtime {
  send(body: unknown, query?: string): Promise<{ status: number; body: any }>;
  get(id: string, query?: string): Promise<{ status: number; body: any }>;
  /** the stored schedule_at and priority of a message, read from the database file */
  stored(id: string): Promise<{ scheduleAt: number | null; priority: number; dataPort: number | null }>;
}

function sendRules(name: string, runtime: () => Runtime) {
  describe(`send request rules: ${name}`, () => {
    test('every broken rule is a 400 that names it', async () => {
      for (const [what, body, mentions, query] of BAD) {
        const reply = await runtime().send(body, query);
        assert.equal(reply.status, 400, `${what}: ${JSON.stringify(reply.body)}`);
        assert.match(reply.body.message, mentions, what);
      }
    });

    test('id absent, null or "" is generated; a reused id is 409 with the wording clients match', async () => {
      const ids = new Set<string>();
      for (const id of [undefined, null, '']) {
        const reply = await runtime().send({ id, textMessage: { text: 'hi' }, phoneNumbers: [NUMBER] });
        assert.equal(reply.status, 202, JSON.stringify(reply.body));
        assert.match(reply.body.id, /^[A-Za-z0-9_-]{21}$/);
        ids.add(reply.body.id);
      }
      assert.equal(ids.size, 3);
      const first = await runtime().send({ id: `${name}-dup`, message: 'one', phoneNumbers: [NUMBER] });
      assert.equal(first.status, 202);
      const again = await runtime().send({ id: `${name}-dup`, message: 'two', phoneNumbers: [NUMBER] });
      assert.equal(again.status, 409);
      assert.match(again.body.message, /^message with the same ID already exists/);
    });

    test('skipPhoneValidation and isEncrypted take any number of up to 128 characters', async () => {
      const long = 'x'.repeat(128);
      const skipped = await runtime().send({ message: 'a', phoneNumbers: ['call me'] }, '?skipPhoneValidation=true');
      assert.equal(skipped.status, 202, JSON.stringify(skipped.body));
      assert.equal(skipped.body.recipients[0].phoneNumber, 'call me');
      const encrypted = await runtime().send({ message: 'a', phoneNumbers: [long], isEncrypted: true });
      assert.equal(encrypted.status, 202, JSON.stringify(encrypted.body));
      assert.equal(encrypted.body.isEncrypted, true);
      assert.equal(encrypted.body.recipients[0].phoneNumber, long);
    });

    test('scheduleAt, priority and a data message are stored', async () => {
      const scheduleAt = '2031-05-06T07:08:09.000Z';
      const reply = await runtime().send({
        id: `${name}-sched`,
        dataMessage: { data: 'AAEC/w==', port: 5000 },
        phoneNumbers: [NUMBER],
        scheduleAt,
        priority: -128,
        ttl: 3600,
      });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
      assert.deepEqual(await runtime().stored(`${name}-sched`), {
        scheduleAt: Date.parse(scheduleAt),
        priority: -128,
        dataPort: 5000,
      });
      const read = await runtime().get(`${name}-sched`);
      assert.equal(read.status, 200);
      assert.equal(read.body.textMessage, undefined, 'no content unless asked for');
      const withOffset = await runtime().send({
        id: `${name}-offset`,
        textMessage: { text: 'later' },
        phoneNumbers: [NUMBER],
        scheduleAt: '2031-05-06T09:08:09+02:00',
        priority: 127,
      });
      assert.equal(withOffset.status, 202);
      assert.deepEqual(await runtime().stored(`${name}-offset`), {
        scheduleAt: Date.parse(scheduleAt),
        priority: 127,
        dataPort: null,
      });
    });
  });
}

const deviceDir = tempDir();
let device: Awaited<ReturnType<typeof startTestDevice>>;
let server: TestServer;
let auth: string;
before(async () => {
  device = await startTestDevice({ dataDir: deviceDir.path });
  server = await startTestServer();
  const phone = await newDevice(server);
  auth = basic(phone.login, phone.password);
});
after(async () => {
  await device.cleanup();
  deviceDir.remove();
  await server.cleanup();
});

/** A row of a messages table, read from the database file by a connection of its own. */
function readRow(file: string, sql: string, id: string) {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).get(id) as { scheduleAt: number | null; priority: number; dataPort: number | null };
  } finally {
    db.close();
  }
}

sendRules('device', () => ({
  send: (body, query = '') => device.api.call('POST', `/messages${query}`, body),
  get: (id, query = '') => device.api.call('GET', `/messages/${id}${query}`),
  stored: async (id) =>
    readRow(
      join(deviceDir.path, 'device.db'),
      'SELECT schedule_at AS scheduleAt, priority, data_port AS dataPort FROM messages WHERE id = ?',
      id,
    ),
}));

sendRules('server', () => ({
  send: (body, query = '') => call(`${server.thirdPartyUrl}/messages${query}`, 'POST', { auth, body }),
  get: (id, query = '') => call(`${server.thirdPartyUrl}/messages/${id}${query}`, 'GET', { auth }),
  stored: async (id) =>
    readRow(
      join(server.dataDir, 'server.db'),
      'SELECT schedule_at AS scheduleAt, priority, data_port AS dataPort FROM messages WHERE id = ?',
      id,
    ),
}));

test('the server hands scheduleAt, priority and the content to the device on the mobile pull', async () => {
  const phone = await newDevice(server, 'puller');
  const as = basic(phone.login, phone.password);
  const text = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
    auth: as,
    body: {
      id: 'pull-text',
      textMessage: { text: 'later' },
      phoneNumbers: [NUMBER],
      scheduleAt: '2031-01-01T00:00:00Z',
    },
  });
  assert.equal(text.status, 202);
  const data = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
    auth: as,
    body: { id: 'pull-data', dataMessage: { data: 'AQI=', port: 7 }, phoneNumbers: [NUMBER], priority: 5 },
  });
  assert.equal(data.status, 202);
  const pulled = await phone.mobile.pullMessages();
  const byId = Object.fromEntries(pulled.map((m) => [m.id, m]));
  assert.equal(byId['pull-text'].scheduleAt, '2031-01-01T00:00:00.000Z');
  assert.deepEqual(byId['pull-text'].textMessage, { text: 'later' });
  assert.equal(byId['pull-text'].message, 'later');
  assert.equal(byId['pull-data'].scheduleAt, null);
  assert.equal(byId['pull-data'].priority, 5);
  assert.deepEqual(byId['pull-data'].dataMessage, { data: 'AQI=', port: 7 });
  assert.equal(byId['pull-data'].textMessage, undefined);
  assert.equal(byId['pull-data'].message, undefined);
  assert.deepEqual(pulled[0].id, 'pull-data', 'higher priority first');
});
