import { describe, test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from './helpers.ts';
import type { ServerStore } from '../../src/server/store/store.ts';
import { openSqliteStore } from '../../src/server/store/sqlite-store.ts';
import { serverMigrations } from '../../src/server/store/migrations.ts';
import { openPostgresStore } from '../../src/server/store/postgres-store.ts';
import { createTestDatabase } from '../postgres/helpers.ts';
import type { MessageRecord } from '../../src/server/messages/repository.ts';
import type { ReportedDelivery } from '../../src/protocol/index.ts';
import { assembleStats, statsWindowFor } from '../../src/shared/stats.ts';

/**
 * The repository contract: every store implementation must give the same answers. A new
 * implementation joins by adding an entry here. `open` may be called more than once: each call
 * is another connection (another "node") to the same database.
 */
interface Implementation {
  name: string;
  setup(): Promise<{ open(): Promise<ServerStore>; dispose(): Promise<void> }>;
}

const IMPLEMENTATIONS: Implementation[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = tempDir();
      return { open: async () => openSqliteStore(join(dir.path, 'contract.db')), dispose: async () => dir.remove() };
    },
  },
  {
    name: 'postgres',
    async setup() {
      // Fails (never skips) when PostgreSQL is not there, saying how to start it.
      const db = await createTestDatabase();
      return { open: () => openPostgresStore(db.url, { log: () => {} }), dispose: () => db.drop() };
    },
  },
];

for (const impl of IMPLEMENTATIONS) {
  describe(`store contract: ${impl.name}`, () => {
    let setup: Awaited<ReturnType<Implementation['setup']>>;
    /** the store under test */
    let store: ServerStore;
    /** a second store on the same database, as a second server node would have */
    let twin: ServerStore;
    /** store for even i, twin for odd i: concurrent calls through two "nodes" */
    const via = (i: number) => (i % 2 === 0 ? store : twin);
    let n = 0;
    const unique = (prefix: string) => `${prefix}-${++n}`;
    const user = async () => {
      const id = unique('user');
      assert.equal(
        await store.users.insertUser({ id, login: id, passwordHash: 'scrypt$x$y', createdAt: 1, updatedAt: 1 }),
        'inserted',
      );
      return id;
    };
    const device = async (userId: string, lastSeen = 1) => {
      const id = unique('device');
      await store.devices.insertDevice(
        {
          id,
          userId,
          name: id,
          pushToken: null,
          createdAt: 1,
          updatedAt: 1,
          lastSeen,
          health: null,
          healthReportedAt: null,
          connectedAt: null,
          simCards: null,
        },
        `hash-${id}`,
      );
      return id;
    };
    const message = (userId: string, deviceId: string, id = unique('msg')): MessageRecord => ({
      userId,
      id,
      deviceId,
      text: 'hi',
      dataPort: null,
      scheduleAt: null,
      isHashed: false,
      simNumber: null,
      withDeliveryReport: true,
      isEncrypted: false,
      priority: 0,
      validUntil: null,
      state: 'Pending',
      createdAt: n,
      updatedAt: n,
      recipients: [
        { phoneNumber: '+1555000', state: 'Pending', error: null },
        { phoneNumber: '+1555001', state: 'Pending', error: null },
      ],
      states: { Pending: 1000 },
    });

    before(async () => {
      setup = await impl.setup();
      store = await setup.open();
      twin = await setup.open();
    });
    after(async () => {
      await store?.close();
      await twin?.close();
      await setup?.dispose();
    });

    test('users: concurrent inserts of one login (through two stores) leave exactly one user', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          via(i).users.insertUser({
            id: `race-${i}`,
            login: 'same-login',
            passwordHash: 'h',
            createdAt: i,
            updatedAt: i,
          }),
        ),
      );
      assert.equal(results.filter((r) => r === 'inserted').length, 1);
      assert.equal((await store.users.listUsers()).filter((u) => u.login === 'same-login').length, 1);
      assert.equal(await store.users.updatePasswordHash('same-login', 'h2', 5), true);
      assert.equal((await store.users.getUserByLogin('same-login'))!.passwordHash, 'h2');
      assert.equal(await store.users.updatePasswordHash('nobody', 'h', 5), false);
    });

    test('webhooks: 20 concurrent upserts of one id (through two stores) leave one whole row; the key is (user, id)', async () => {
      const [u1, u2] = [await user(), await user()];
      const d1 = await device(u1);
      const stored = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          via(i).webhooks.upsertWebhook({
            userId: u1,
            id: 'hook',
            url: `https://e.com/${i}`,
            event: 'sms:sent',
            deviceId: i % 2 ? d1 : null,
            createdAt: 100 + i,
            updatedAt: 100 + i,
          }),
        ),
      );
      assert.deepEqual(
        stored.map((w) => w.url),
        Array.from({ length: 20 }, (_, i) => `https://e.com/${i}`),
        'each upsert returns what it wrote',
      );
      const rows = await store.webhooks.listUserWebhooks(u1);
      assert.equal(rows.length, 1);
      const i = rows[0].updatedAt - 100;
      assert.ok(i >= 0 && i < 20, `updatedAt ${rows[0].updatedAt} is one of the upserts'`);
      assert.deepEqual(
        [rows[0].url, rows[0].deviceId],
        [`https://e.com/${i}`, i % 2 ? d1 : null],
        'the row is one upsert, not a mix of two',
      );
      assert.ok(rows[0].createdAt >= 100 && rows[0].createdAt < 120, 'createdAt is one upsert’s');
      assert.deepEqual(await twin.webhooks.listUserWebhooks(u1), rows, 'both stores see the same row');
      // a later upsert replaces the fields and keeps createdAt
      const later = await twin.webhooks.upsertWebhook({
        userId: u1,
        id: 'hook',
        url: 'https://e.com/later',
        event: 'sms:received',
        deviceId: null,
        createdAt: 999,
        updatedAt: 999,
      });
      assert.deepEqual(
        [later.url, later.event, later.deviceId, later.createdAt, later.updatedAt],
        ['https://e.com/later', 'sms:received', null, rows[0].createdAt, 999],
      );
      await store.webhooks.upsertWebhook({
        userId: u2,
        id: 'hook',
        url: 'https://other.com',
        event: 'sms:received',
        deviceId: null,
        createdAt: 1,
        updatedAt: 1,
      });
      assert.equal((await store.webhooks.listUserWebhooks(u1))[0].url.startsWith('https://e.com/'), true);
      assert.equal(await store.webhooks.deleteUserWebhook(u2, 'missing'), false);
      assert.equal(await store.webhooks.deleteUserWebhook(u2, 'hook'), true);
      assert.equal((await store.webhooks.listUserWebhooks(u1)).length, 1, 'deleting u2’s hook left u1’s');
    });

    test('webhooks: concurrent upserts share a commit, yet one that the database refuses fails alone', async () => {
      const u = await user();
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          store.webhooks.upsertWebhook({
            userId: i === 5 ? 'no-such-user' : u,
            id: `shared-${i % 4}`,
            url: `https://e.com/${i}`,
            event: 'sms:sent',
            deviceId: null,
            createdAt: 10 + i,
            updatedAt: 10 + i,
          }),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        results.map((_, i) => (i === 5 ? 'rejected' : 'fulfilled')),
        'only the write for a missing user fails',
      );
      for (const [i, r] of results.entries())
        if (r.status === 'fulfilled')
          assert.equal(r.value.url, `https://e.com/${i}`, `upsert ${i} answers what it wrote`);
      const rows = await twin.webhooks.listUserWebhooks(u);
      assert.deepEqual(
        rows.map((w) => [w.id, w.url]),
        [
          ['shared-0', 'https://e.com/8'],
          ['shared-1', 'https://e.com/9'],
          ['shared-2', 'https://e.com/10'],
          ['shared-3', 'https://e.com/11'],
        ],
        'the last write of each id is stored, and committed (another connection sees it)',
      );
      assert.deepEqual(
        rows.map((w) => w.createdAt),
        [10, 11, 12, 13],
        'each keeps the createdAt of its first write',
      );
    });

    test("webhooks: a device's list is its own plus the user's device-less ones", async () => {
      const u = await user();
      const [d1, d2] = [await device(u), await device(u)];
      for (const [id, deviceId] of [
        ['all', null],
        ['one', d1],
        ['two', d2],
      ] as const) {
        await store.webhooks.upsertWebhook({
          userId: u,
          id,
          url: 'https://e.com',
          event: 'sms:sent',
          deviceId,
          createdAt: 1,
          updatedAt: 1,
        });
      }
      assert.deepEqual((await store.webhooks.listDeviceWebhooks(u, d1)).map((w) => w.id).sort(), ['all', 'one']);
      assert.equal(await store.webhooks.deleteDeviceWebhooks(u, d1), 1);
      assert.deepEqual((await store.webhooks.listUserWebhooks(u)).map((w) => w.id).sort(), ['all', 'two']);
    });

    test('devices: most recently seen first; lastSeen writes are throttled unless asked not to be', async () => {
      const u = await user();
      const older = await device(u, 1000);
      const newer = await device(u, 2000);
      assert.deepEqual(
        (await store.devices.listUserDevices(u)).map((d) => d.id),
        [newer, older],
      );
      await store.devices.touchDevice(older, 1500, 10_000);
      const connected = (await store.devices.getUserDevice(u, older))!;
      assert.deepEqual([connected.lastSeen, connected.connectedAt], [1500, 1500], 'the first use is always written');
      await store.devices.touchDevice(older, 2500, 10_000);
      assert.equal((await store.devices.getUserDevice(u, older))!.lastSeen, 1500, 'within the resolution: no write');
      await store.devices.touchDevice(older, 2500, 0);
      assert.equal((await store.devices.getUserDevice(u, older))!.connectedAt, 1500, 'connected once, for good');
      assert.equal((await store.devices.getUserDevice(u, older))!.lastSeen, 2500);
      assert.deepEqual(
        (await store.devices.listUserDevices(u)).map((d) => d.id),
        [older, newer],
      );
      const sending = async (userId: string, seenSince: number) =>
        await store.devices.listSendingDeviceIds(userId, seenSince);
      assert.deepEqual(await sending(u, 0), [older], 'only a device that has connected');
      assert.deepEqual(await sending(u, 2500), [older], 'seen at or after');
      assert.deepEqual(await sending(u, 2501), [], 'not seen since');
      assert.deepEqual(await sending(await user(), 0), [], 'a user without devices has none');
      assert.equal((await store.devices.getDeviceByTokenHash(`hash-${older}`))!.id, older);
      assert.equal(
        await store.devices.getUserDevice(await user(), older),
        undefined,
        "another user's device is not found",
      );
      assert.equal(await store.devices.deleteUserDevice(u, older), true);
      assert.equal(await store.devices.getDeviceByTokenHash(`hash-${older}`), undefined);
    });

    test('devices: lookups by token asked at once each get their own device (or none); concurrent seen notes keep the latest time', async () => {
      const u = await user();
      const ids = await Promise.all(Array.from({ length: 6 }, () => device(u, 1000)));
      const hashes = [...ids.map((id) => `hash-${id}`), 'hash-of-nobody', `hash-${ids[0]}`];
      const found = await Promise.all(hashes.map((hash, i) => via(i).devices.getDeviceByTokenHash(hash)));
      assert.deepEqual(
        found.map((d) => d?.id),
        [...ids, undefined, ids[0]],
      );
      assert.equal(found[0]!.userId, u);
      // each has connected once (a first use is always written), at the time it was last seen
      for (const id of ids) await store.devices.touchDevice(id, 1000, 10_000);
      // at once: a throttled note and a ping for one device, notes within and past the interval for others
      await Promise.all([
        store.devices.touchDevice(ids[0], 5000, 10_000), // within the interval alone: no write…
        store.devices.touchDevice(ids[0], 4000, 0), // …but a ping of the same device writes (either time will do)
        store.devices.touchDevice(ids[1], 5000, 10_000), // within the interval: no write
        store.devices.touchDevice(ids[2], 20_000, 10_000), // past it: written
        twin.devices.touchDevice(ids[3], 7000, 0),
      ]);
      const seen = await Promise.all(ids.slice(0, 4).map((id) => store.devices.getUserDevice(u, id)));
      assert.ok([4000, 5000].includes(seen[0]!.lastSeen), `the ping was written (lastSeen ${seen[0]!.lastSeen})`);
      assert.deepEqual(
        seen.slice(1).map((d) => d!.lastSeen),
        [1000, 20_000, 7000],
      );
    });

    test("settings: reads asked at once each get their own user's document, and a read asked after a change sees it", async () => {
      const [a, b, none] = [await user(), await user(), await user()];
      await store.settings.patchUserSettings(a, { ping: { interval_seconds: 60 } }, 1);
      await store.settings.patchUserSettings(b, { logs: { lifetime_days: 3 } }, 1);
      const read = await Promise.all([a, b, none, a].map((userId, i) => via(i).settings.getUserSettings(userId)));
      assert.deepEqual(read, [
        { ping: { interval_seconds: 60 } },
        { logs: { lifetime_days: 3 } },
        {},
        { ping: { interval_seconds: 60 } },
      ]);
      read[0].ping!.interval_seconds = 1;
      assert.equal(read[3].ping!.interval_seconds, 60, 'each caller has a document of its own');
      // reads in flight while the change commits; one asked after it resolves must see it
      const during = Array.from({ length: 20 }, () => store.settings.getUserSettings(a));
      await twin.settings.patchUserSettings(a, { ping: { interval_seconds: 90 } }, 2);
      const after = await store.settings.getUserSettings(a);
      await Promise.all(during);
      assert.equal(after.ping?.interval_seconds, 90);
    });

    test('devices: the latest health report is kept, an older one never replaces it, and a report counts as seen', async () => {
      const u = await user();
      const d = await device(u, 1000);
      assert.equal((await store.devices.getUserDevice(u, d))!.health, null, 'no report yet');
      const report = (queued: number) => ({
        status: 'pass' as const,
        version: '1',
        releaseId: 1,
        checks: {
          'webhooks:queue': {
            description: 'q',
            observedValue: queued,
            observedUnit: 'deliveries',
            status: 'pass' as const,
          },
        },
      });
      await store.devices.saveHealth(d, JSON.stringify(report(7)), 5000);
      await twin.devices.saveHealth(d, JSON.stringify(report(3)), 4000); // overtaken by the newer one
      const saved = (await twin.devices.getUserDevice(u, d))!;
      assert.equal(saved.health!.checks['webhooks:queue'].observedValue, 7);
      assert.deepEqual([saved.healthReportedAt, saved.lastSeen], [5000, 5000]);
      await store.devices.saveHealth(d, JSON.stringify(report(0)), 6000);
      assert.equal((await store.devices.listUserDevices(u))[0].health!.checks['webhooks:queue'].observedValue, 0);
      await store.devices.touchDevice(d, 9000, 0);
      await store.devices.saveHealth(d, JSON.stringify(report(1)), 8000);
      assert.equal((await store.devices.getUserDevice(u, d))!.lastSeen, 9000, 'a report never moves lastSeen back');
    });

    test('messages: duplicate ids per user are refused; ids of different users do not collide', async () => {
      const [u1, u2] = [await user(), await user()];
      const [d1, d2] = [await device(u1), await device(u2)];
      assert.equal(await store.messages.insertMessage(message(u1, d1, 'same')), 'inserted');
      assert.equal(await store.messages.insertMessage(message(u1, d1, 'same')), 'duplicate-id');
      assert.equal(await store.messages.insertMessage(message(u2, d2, 'same')), 'inserted');
      const got = await store.messages.getUserMessage(u1, 'same');
      assert.deepEqual(
        got!.recipients.map((r) => r.phoneNumber),
        ['+1555000', '+1555001'],
      );
      assert.deepEqual(got!.states, { Pending: 1000 });
      assert.deepEqual(
        (await store.messages.listPendingForDevice(d1, 10, 'fifo')).map((m) => m.id),
        ['same'],
      );
    });

    test('messages: a data message keeps its port, a scheduled one its time; the pull carries both', async () => {
      const u = await user();
      const d = await device(u);
      const data = { ...message(u, d, 'data'), text: 'AAEC/w==', dataPort: 65535, priority: -128 };
      const scheduled = { ...message(u, d, 'scheduled'), scheduleAt: 4_102_444_800_123, priority: 127 };
      assert.equal(await store.messages.insertMessage(data), 'inserted');
      assert.equal(await store.messages.insertMessage(scheduled), 'inserted');
      for (const m of [data, scheduled]) {
        const got = (await store.messages.getUserMessage(u, m.id))!;
        assert.deepEqual(
          [got.text, got.dataPort, got.scheduleAt, got.priority, got.isHashed],
          [m.text, m.dataPort, m.scheduleAt, m.priority, false],
        );
      }
      const pulled = await store.messages.listPendingForDevice(d, 10, 'fifo');
      assert.deepEqual(
        pulled.map((m) => [m.id, m.dataPort, m.scheduleAt]),
        [
          ['scheduled', null, 4_102_444_800_123],
          ['data', 65535, null],
        ],
      );
    });

    test('messages: only a Pending message becomes Cancelling; a Cancelled report without recipients cancels them all', async () => {
      const u = await user();
      const d = await device(u);
      assert.equal(await store.messages.insertMessage(message(u, d, 'c-1')), 'inserted');
      assert.equal(await store.messages.markCancelling(u, 'c-1', 5000), true);
      assert.equal(await store.messages.markCancelling(u, 'c-1', 6000), false, 'Cancelling is not Pending');
      assert.equal(await store.messages.markCancelling(u, 'missing', 6000), false);
      const cancelling = (await store.messages.getUserMessage(u, 'c-1'))!;
      assert.equal(cancelling.state, 'Cancelling');
      assert.equal(cancelling.states.Cancelling, 5000);
      assert.deepEqual(await store.messages.listPendingForDevice(d, 10, 'fifo'), [], 'not Pending any more');
      assert.deepEqual(
        (await store.messages.listCancellingForDevice(d, 10)).map((m) => m.id),
        ['c-1'],
      );
      const report = { id: 'c-1', state: 'Cancelled' as const, recipients: [], states: { Cancelled: 7000 } };
      assert.equal(await store.messages.applyStateReport(d, report, 7000), true);
      const cancelled = (await store.messages.getUserMessage(u, 'c-1'))!;
      assert.equal(cancelled.state, 'Cancelled');
      assert.deepEqual(
        cancelled.recipients.map((r) => r.state),
        ['Cancelled', 'Cancelled'],
      );
      // a phone that had already taken it: its report replaces Cancelling
      assert.equal(await store.messages.insertMessage(message(u, d, 'c-2')), 'inserted');
      assert.equal(await store.messages.markCancelling(u, 'c-2', 5000), true);
      const sent = {
        id: 'c-2',
        state: 'Sent' as const,
        recipients: [{ phoneNumber: '+1555000', state: 'Sent' as const }],
        states: { Sent: 8000 },
      };
      assert.equal(await store.messages.applyStateReport(d, sent, 8000), true);
      const taken = (await store.messages.getUserMessage(u, 'c-2'))!;
      assert.equal(taken.state, 'Sent');
      assert.deepEqual(
        taken.recipients.map((r) => r.state),
        ['Sent', 'Pending'],
      );
    });

    test('messages: a final, unencrypted message is hashed once; any other is left alone', async () => {
      const u = await user();
      const d = await device(u);
      const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
      const final = (id: string) => ({
        id,
        state: 'Delivered' as const,
        recipients: [
          { phoneNumber: '+1555000', state: 'Delivered' as const },
          { phoneNumber: '+1555001', state: 'Delivered' as const },
        ],
        states: { Delivered: 9000 },
      });
      assert.equal(await store.messages.insertMessage(message(u, d, 'h-1')), 'inserted');
      assert.equal(await store.messages.hashIfFinal(d, 'h-1'), false, 'Pending: not hashed');
      await store.messages.applyStateReport(d, final('h-1'), 9000);
      assert.equal(await store.messages.hashIfFinal(d, 'h-1'), true);
      assert.equal(await store.messages.hashIfFinal(d, 'h-1'), false, 'only once');
      const hashed = (await store.messages.getUserMessage(u, 'h-1'))!;
      assert.equal(hashed.isHashed, true);
      assert.equal(hashed.text, sha256('hi'));
      assert.deepEqual(
        hashed.recipients.map((r) => r.phoneNumber),
        [sha256('+1555000').slice(0, 16), sha256('+1555001').slice(0, 16)],
      );
      assert.equal(await store.messages.insertMessage({ ...message(u, d, 'h-2'), isEncrypted: true }), 'inserted');
      await store.messages.applyStateReport(d, final('h-2'), 9000);
      assert.equal(await store.messages.hashIfFinal(d, 'h-2'), false, 'ciphertext is not hashed');
      assert.equal((await store.messages.getUserMessage(u, 'h-2'))!.text, 'hi');
    });

    test('messages: the pull hands out the highest priority first, then oldest (fifo) or newest (lifo) first', async () => {
      const u = await user();
      const d = await device(u);
      const queued: [string, number, number][] = [
        ['old-low', 0, 1000],
        ['new-low', 0, 3000],
        ['mid-high', 100, 2000],
        ['new-high', 100, 4000],
        ['mid-low', 0, 2000],
      ];
      for (const [id, priority, createdAt] of queued) {
        assert.equal(await store.messages.insertMessage({ ...message(u, d, id), priority, createdAt }), 'inserted');
      }
      const pull = async (order: 'fifo' | 'lifo', limit = 10) =>
        (await store.messages.listPendingForDevice(d, limit, order)).map((m) => m.id);
      assert.deepEqual(await pull('fifo'), ['mid-high', 'new-high', 'old-low', 'mid-low', 'new-low']);
      assert.deepEqual(await pull('lifo'), ['new-high', 'mid-high', 'new-low', 'mid-low', 'old-low']);
      assert.deepEqual(await pull('lifo', 2), ['new-high', 'mid-high'], 'the limit cuts the list');
    });

    test('messages: concurrent state reports never move a message or a recipient backwards; the earliest time of a state is kept', async () => {
      const u = await user();
      const d = await device(u);
      const m = message(u, d);
      await store.messages.insertMessage(m);
      const report = (state: 'Processed' | 'Sent' | 'Delivered' | 'Failed', at: number) => ({
        id: m.id,
        state,
        recipients: [
          { phoneNumber: '+1555000', state },
          {
            phoneNumber: '+1555001',
            state: state === 'Delivered' ? ('Failed' as const) : state,
            error: state === 'Delivered' ? 'RESULT_ERROR_NO_SERVICE' : null,
          },
        ],
        states: { [state]: at },
      });
      const reports = [
        report('Delivered', 3000),
        report('Sent', 2000),
        report('Processed', 1500),
        report('Sent', 2999),
        report('Processed', 1600),
        report('Delivered', 3999),
      ];
      const applied = await Promise.all(reports.map((r, i) => via(i).messages.applyStateReport(d, r, 5000)));
      assert.ok(applied.every(Boolean));
      const after = (await store.messages.getUserMessage(u, m.id))!;
      assert.equal(after.state, 'Delivered');
      assert.deepEqual(
        after.recipients.map((r) => [r.state, r.error]),
        [
          ['Delivered', null],
          ['Failed', 'RESULT_ERROR_NO_SERVICE'],
        ],
      );
      assert.deepEqual(
        after.states,
        { Pending: 1000, Delivered: 3000, Sent: 2000, Processed: 1500 },
        'the earliest time of each state, whatever the order',
      );
      assert.deepEqual(
        Object.keys(after.states),
        ['Pending', 'Processed', 'Sent', 'Delivered'],
        'states in time order',
      );
      // one at a time, backwards: nothing moves, and an earlier time of a known state is kept
      assert.equal(await twin.messages.applyStateReport(d, report('Sent', 1900), 5500), true);
      const again = (await store.messages.getUserMessage(u, m.id))!;
      assert.equal(again.state, 'Delivered');
      assert.deepEqual(
        again.recipients.map((r) => r.state),
        ['Delivered', 'Failed'],
      );
      assert.equal(again.states.Sent, 1900);
      // a final state is final: Failed (same rank as Delivered) does not replace it
      await store.messages.applyStateReport(d, report('Failed', 6000), 6000);
      assert.equal((await store.messages.getUserMessage(u, m.id))!.state, 'Delivered');
      assert.deepEqual(await store.messages.listPendingForDevice(d, 10, 'lifo'), []);
      // another device cannot report on it
      assert.equal(await store.messages.applyStateReport(await device(u), report('Failed', 1), 1), false);
    });

    test('messages: listing filters and pages, newest first', async () => {
      const u = await user();
      const [d1, d2] = [await device(u), await device(u)];
      for (let i = 0; i < 6; i++) {
        const m = message(u, i % 2 ? d2 : d1, `list-${i}`);
        m.createdAt = 10_000 + i;
        await store.messages.insertMessage(m);
      }
      const page = await store.messages.listUserMessages(u, {}, { limit: 2, offset: 1 });
      assert.equal(page.total, 6);
      assert.deepEqual(
        page.items.map((m) => m.id),
        ['list-4', 'list-3'],
      );
      const filtered = await store.messages.listUserMessages(
        u,
        { deviceId: d2, from: 10_002, to: 10_005 },
        { limit: 10, offset: 0 },
      );
      assert.deepEqual(
        filtered.items.map((m) => m.id),
        ['list-3'],
      );
      assert.equal((await store.messages.listUserMessages(u, { state: 'Sent' }, { limit: 10, offset: 0 })).total, 0);
    });

    test('settings: PATCH merges per group and keeps nulls; PUT replaces but keeps the signing key', async () => {
      const u = await user();
      assert.deepEqual(await store.settings.getUserSettings(u), {});
      await store.settings.patchUserSettings(u, { webhooks: { signing_key: 'k', retry_count: 3 } }, 1);
      await store.settings.patchUserSettings(
        u,
        { webhooks: { internet_required: false }, ping: { interval_seconds: null } },
        2,
      );
      assert.deepEqual(await store.settings.getUserSettings(u), {
        webhooks: { signing_key: 'k', retry_count: 3, internet_required: false },
        ping: { interval_seconds: null },
      });
      assert.deepEqual(await store.settings.replaceUserSettings(u, { logs: { lifetime_days: 7 } }, 3), {
        logs: { lifetime_days: 7 },
        webhooks: { signing_key: 'k' },
      });
      assert.deepEqual(await store.settings.replaceUserSettings(u, { webhooks: { signing_key: 'k2' } }, 4), {
        webhooks: { signing_key: 'k2' },
      });
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          via(i).settings.patchUserSettings(u, { messages: { [`limit_value`]: i } }, 5 + i),
        ),
      );
      assert.equal(
        (await store.settings.getUserSettings(u)).webhooks?.signing_key,
        'k2',
        'concurrent patches of another group keep the key',
      );
      // concurrent patches of different keys through two stores: none is lost
      const v = await user();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          via(i).settings.patchUserSettings(v, { messages: { [`key_${i}`]: i } } as never, 20 + i),
        ),
      );
      assert.deepEqual(
        Object.keys((await twin.settings.getUserSettings(v)).messages ?? {}).sort(),
        Array.from({ length: 10 }, (_, i) => `key_${i}`).sort(),
      );
    });

    /** A delivery as a device reports it, version (attempts, updatedAt), with attempts 1..attempts. */
    const reported = (
      id: string,
      attempts: number,
      updatedAt: number,
      extra: Partial<ReportedDelivery> = {},
    ): ReportedDelivery => ({
      id,
      eventId: `event-of-${id}`,
      event: 'sms:received',
      webhookId: 'hook-1',
      source: 'Local',
      url: 'https://e.com/hook',
      state: attempts === 0 ? 'pending' : 'succeeded',
      attempts,
      nextAttemptAt: attempts === 0 ? updatedAt : null,
      lastStatus: attempts === 0 ? null : 200,
      lastError: null,
      createdAt: 1000,
      updatedAt,
      attemptLog: Array.from({ length: attempts }, (_, i) => ({
        number: i + 1,
        startedAt: 1000 + i,
        durationMs: 10 + i,
        status: i + 1 === attempts ? 200 : 500,
        error: i + 1 === attempts ? null : 'HTTP 500',
        responsePreview: 'ok',
        outcome: i + 1 === attempts ? ('succeeded' as const) : ('retry' as const),
      })),
      ...extra,
    });

    test('deliveries: an older report never replaces a newer version, through either store; each attempt is stored once', async () => {
      const u = await user();
      const d = await device(u);
      const first = await store.deliveries.saveReport({ id: d, userId: u }, [reported('del-1', 0, 2000)], 5000, 100);
      assert.deepEqual(first.changed, [{ id: 'del-1', state: 'pending', attempts: 0 }]);
      assert.deepEqual(first.newAttempts, []);
      const second = await twin.deliveries.saveReport({ id: d, userId: u }, [reported('del-1', 2, 3000)], 5001, 100);
      assert.deepEqual(second.changed, [{ id: 'del-1', state: 'succeeded', attempts: 2 }]);
      assert.deepEqual(
        second.newAttempts.map((a) => [a.deliveryId, a.number, a.outcome, a.durationMs]),
        [
          ['del-1', 1, 'retry', 10],
          ['del-1', 2, 'succeeded', 11],
        ],
      );
      // late and repeated reports, racing through both stores: nothing moves back, no attempt twice
      const late = await Promise.all([
        store.deliveries.saveReport(
          { id: d, userId: u },
          [reported('del-1', 1, 2500, { state: 'pending', lastStatus: 500 })],
          5002,
          100,
        ),
        twin.deliveries.saveReport({ id: d, userId: u }, [reported('del-1', 2, 3000)], 5003, 100),
        store.deliveries.saveReport(
          { id: d, userId: u },
          [reported('del-1', 2, 2999, { state: 'pending' })],
          5004,
          100,
        ),
      ]);
      assert.deepEqual(
        late.map((r) => [r.changed.length, r.newAttempts.length]),
        [
          [0, 0],
          [0, 0],
          [0, 0],
        ],
      );
      const stored = (await twin.deliveries.getUserDelivery(u, 'del-1'))!;
      assert.deepEqual(
        [stored.state, stored.attempts, stored.updatedAt, stored.lastStatus, stored.reportedAt],
        ['succeeded', 2, 3000, 200, 5001],
      );
      assert.deepEqual(
        stored.attemptLog.map((a) => [a.number, a.status, a.outcome, a.startedAt]),
        [
          [1, 500, 'retry', 1000],
          [2, 200, 'succeeded', 1001],
        ],
      );
      // same attempts, later change on the device (a redelivery): newer, so it replaces
      const redelivered = await store.deliveries.saveReport(
        { id: d, userId: u },
        [reported('del-1', 2, 4000, { state: 'pending', nextAttemptAt: 4000 })],
        5005,
        100,
      );
      assert.deepEqual(redelivered.changed, [{ id: 'del-1', state: 'pending', attempts: 2 }]);
      assert.equal((await store.deliveries.getUserDelivery(u, 'del-1'))!.nextAttemptAt, 4000);
    });

    test('deliveries: a user sees only their own; filters and keyset pages, newest first', async () => {
      const [u1, u2] = [await user(), await user()];
      const [d1, d2, other] = [await device(u1), await device(u1), await device(u2)];
      await store.deliveries.saveReport(
        { id: d1, userId: u1 },
        [reported('a', 1, 10), reported('b', 0, 11, { event: 'sms:sent' })],
        1,
        100,
      );
      await twin.deliveries.saveReport(
        { id: d2, userId: u1 },
        [reported('c', 1, 12, { webhookId: 'hook-2', source: 'Cloud' })],
        2,
        100,
      );
      await store.deliveries.saveReport(
        { id: other, userId: u2 },
        [reported('d', 1, 13), reported('shared-id', 1, 14)],
        3,
        100,
      );
      const ids = async (
        userId: string,
        filter: Partial<Parameters<ServerStore['deliveries']['listUserDeliveries']>[1]> = {},
      ) => (await twin.deliveries.listUserDeliveries(userId, { limit: 10, ...filter })).map((d) => d.id);
      assert.deepEqual(await ids(u1), ['c', 'b', 'a'], 'newest first, only u1’s');
      assert.deepEqual(await ids(u2), ['shared-id', 'd']);
      assert.deepEqual(await ids(u1, { state: 'pending' }), ['b']);
      assert.deepEqual(await ids(u1, { event: 'sms:sent' }), ['b']);
      assert.deepEqual(await ids(u1, { webhookId: 'hook-2' }), ['c']);
      assert.deepEqual(await ids(u1, { deviceId: d1 }), ['b', 'a']);
      assert.deepEqual(await ids(u1, { deviceId: other }), [], "another user's device filters to nothing");
      const firstPage = await store.deliveries.listUserDeliveries(u1, { limit: 2 });
      assert.deepEqual(
        firstPage.map((d) => d.id),
        ['c', 'b'],
      );
      assert.deepEqual(await ids(u1, { limit: 2, before: firstPage[1].seq }), ['a']);
      assert.equal(await store.deliveries.getUserDelivery(u1, 'd'), undefined, "another user's delivery is not found");
      assert.equal((await store.deliveries.getUserDelivery(u2, 'd'))!.deviceId, other);
      assert.equal(await store.deliveries.getUserDelivery(u1, 'missing'), undefined);
    });

    test('deliveries: a full report (200) is saved whole, each change and attempt named once', async () => {
      const u = await user();
      const d = await device(u);
      const full = Array.from({ length: 200 }, (_, i) => reported(`full-${i}`, 1 + (i % 2), 100 + i));
      const saved = await store.deliveries.saveReport({ id: d, userId: u }, full, 50, 1000);
      assert.equal(saved.changed.length, 200);
      assert.equal(saved.newAttempts.length, 300);
      assert.equal(new Set(saved.newAttempts.map((a) => `${a.deliveryId}/${a.number}`)).size, 300);
      assert.equal((await twin.deliveries.listUserDeliveries(u, { limit: 500, deviceId: d })).length, 200);
    });

    if (impl.name === 'sqlite')
      test('deliveries (SQLite): a full report is saved a few deliveries per transaction; other work runs in between', async () => {
        const u = await user();
        const d = await device(u);
        const full = Array.from({ length: 200 }, (_, i) => reported(`turns-${i}`, 1, 100 + i));
        const saving = store.deliveries.saveReport({ id: d, userId: u }, full, 50, 1000);
        // what a request served meanwhile would see: a part of the report, committed
        const seenMeanwhile = await new Promise<number>((resolve) =>
          setImmediate(async () =>
            resolve((await twin.deliveries.listUserDeliveries(u, { limit: 500, deviceId: d })).length),
          ),
        );
        await saving;
        assert.ok(
          seenMeanwhile > 0 && seenMeanwhile < 200,
          `other work ran with ${seenMeanwhile} of 200 saved (200: the whole report held the event loop)`,
        );
        assert.equal((await twin.deliveries.listUserDeliveries(u, { limit: 500, deviceId: d })).length, 200);
      });

    test('deliveries: each device keeps its newest N; a removed device takes its deliveries and attempts along', async () => {
      const u = await user();
      const [d, kept] = [await device(u), await device(u)];
      await store.deliveries.saveReport({ id: kept, userId: u }, [reported('kept-1', 1, 1)], 1, 3);
      for (let i = 0; i < 5; i++)
        await via(i).deliveries.saveReport({ id: d, userId: u }, [reported(`bound-${i}`, 1, 10 + i)], 10 + i, 3);
      assert.deepEqual(
        (await store.deliveries.listUserDeliveries(u, { limit: 10, deviceId: d })).map((x) => x.id),
        ['bound-4', 'bound-3', 'bound-2'],
      );
      assert.equal(await store.deliveries.getUserDelivery(u, 'bound-0'), undefined, 'the oldest went');
      assert.deepEqual(
        (await store.deliveries.listUserDeliveries(u, { limit: 10, deviceId: kept })).map((x) => x.id),
        ['kept-1'],
        "another device's are not counted",
      );
      // a pruned delivery reported again comes back, as new
      const back = await store.deliveries.saveReport({ id: d, userId: u }, [reported('bound-0', 2, 99)], 20, 3);
      assert.deepEqual(
        back.newAttempts.map((a) => a.number),
        [1, 2],
      );

      // one still pending (being retried) outlives the bound: its attempts must not come back as new
      const retried = await device(u);
      await store.deliveries.saveReport(
        { id: retried, userId: u },
        [reported('retrying', 1, 1, { state: 'pending', nextAttemptAt: 5, lastStatus: 500, attemptLog: [] })],
        1,
        3,
      );
      for (let i = 0; i < 6; i++)
        await via(i).deliveries.saveReport({ id: retried, userId: u }, [reported(`done-${i}`, 1, 10 + i)], 10 + i, 3);
      const left = (await store.deliveries.listUserDeliveries(u, { limit: 20, deviceId: retried })).map((x) => x.id);
      assert.deepEqual(
        left,
        ['done-5', 'done-4', 'done-3', 'retrying'],
        'finished ones past the bound went, the pending one stayed',
      );
      // ... up to ten times the bound: then the oldest go, pending or not
      for (let i = 0; i < 30; i++)
        await store.deliveries.saveReport(
          { id: retried, userId: u },
          [reported(`queued-${i}`, 0, 100 + i)],
          100 + i,
          3,
        );
      const capped = (await store.deliveries.listUserDeliveries(u, { limit: 100, deviceId: retried })).map((x) => x.id);
      assert.equal(capped.length, 30, `at most 10 × 3 kept: ${capped.length}`);
      assert.ok(!capped.includes('retrying') && capped.includes('queued-29'), 'the oldest went first');
      assert.equal(await store.devices.deleteUserDevice(u, retried), true);

      assert.equal(await store.devices.deleteUserDevice(u, d), true);
      assert.deepEqual(await store.deliveries.listUserDeliveries(u, { limit: 10, deviceId: d }), []);
      assert.deepEqual(
        (await store.deliveries.listUserDeliveries(u, { limit: 10 })).map((x) => x.id),
        ['kept-1'],
      );
    });

    test('retention: purgeExpired takes at most its limit, only the user’s, only finished deliveries and final messages before the cutoff', async () => {
      const [u, v] = [await user(), await user()];
      const [d, e] = [await device(u), await device(v)];
      await store.deliveries.saveReport(
        { id: d, userId: u },
        [reported('r-1', 1, 10), reported('r-2', 1, 11), reported('r-3', 1, 12), reported('r-pending', 0, 13)],
        100,
        100,
      );
      await store.deliveries.saveReport({ id: d, userId: u }, [reported('r-late', 1, 14)], 200, 100);
      await store.deliveries.saveReport({ id: e, userId: v }, [reported('r-other', 1, 15)], 100, 100);
      assert.equal(await via(1).deliveries.purgeExpired(u, 200, 2), 2, 'a batch is at most its limit');
      assert.equal(await via(0).deliveries.purgeExpired(u, 200, 10), 1, 'the rest of those stored before the cutoff');
      assert.equal(await via(0).deliveries.purgeExpired(u, 200, 10), 0, 'nothing left to purge');
      assert.deepEqual(
        (await store.deliveries.listUserDeliveries(u, { limit: 10 })).map((x) => x.id),
        ['r-late', 'r-pending'],
        'the pending one and the one stored at the cutoff stay',
      );
      assert.equal((await store.deliveries.getUserDelivery(v, 'r-other'))?.id, 'r-other', "another user's stays");

      for (const id of ['p-final', 'p-sent', 'p-pending', 'p-cancelling'])
        await store.messages.insertMessage(message(u, d, id));
      await store.messages.insertMessage(message(v, e, 'p-other'));
      const report = (id: string, state: 'Delivered' | 'Sent') => ({
        id,
        state,
        recipients: [],
        states: { [state]: 50 },
      });
      assert.ok(await store.messages.applyStateReport(d, report('p-final', 'Delivered'), 50), 'p-final delivered');
      assert.ok(await store.messages.applyStateReport(d, report('p-sent', 'Sent'), 50), 'p-sent sent');
      assert.ok(await store.messages.applyStateReport(e, report('p-other', 'Delivered'), 50), 'p-other delivered');
      assert.ok(await store.messages.markCancelling(u, 'p-cancelling', 50), 'p-cancelling cancelling');
      assert.equal(await via(1).messages.purgeExpired(u, 50, 10), 0, 'a message changed at the cutoff stays');
      assert.equal(await via(1).messages.purgeExpired(u, 51, 10), 1, 'only the final one goes');
      assert.equal(await store.messages.getUserMessage(u, 'p-final'), undefined, 'p-final is gone');
      for (const id of ['p-sent', 'p-pending', 'p-cancelling'])
        assert.ok(await store.messages.getUserMessage(u, id), `${id} is not final: it stays`);
      assert.ok(await store.messages.getUserMessage(v, 'p-other'), "another user's stays");
      // a new message under the purged id starts clean: its recipients and state times went with it
      assert.equal(await store.messages.insertMessage(message(u, d, 'p-final')), 'inserted');
      const again = (await store.messages.getUserMessage(u, 'p-final'))!;
      assert.deepEqual(
        [again.recipients.length, Object.keys(again.states)],
        [2, ['Pending']],
        'no recipient or state time of the purged message is left',
      );
    });

    test("stats: attempts per minute by outcome with nearest-rank p50/p99, messages by the minute they reached a state, the most failing webhooks; only the user's, only in the range", async () => {
      const [u, v] = [await user(), await user()];
      const [d, dv] = [await device(u), await device(v)];
      const minute = (m: number, ms = 0) => m * 60_000 + ms;
      const attempt = (
        number: number,
        startedAt: number,
        durationMs: number,
        status: number | null,
        outcome: 'succeeded' | 'retry' | 'failed',
        error: string | null = null,
      ) => ({
        number,
        startedAt,
        durationMs,
        status,
        error,
        responsePreview: null,
        outcome,
      });
      // minute 99: one delivery tried 100 times, durations 1..100 ms, the last one answered 200
      const many = reported('many', 100, minute(99, 5000), {
        attemptLog: Array.from({ length: 100 }, (_, i) =>
          attempt(i + 1, minute(99, (i + 1) * 10), 100 - i, i === 99 ? 200 : 500, i === 99 ? 'succeeded' : 'retry'),
        ),
      });
      // minute 100: another webhook refused, then gave up on with a 503
      const bad = reported('bad', 2, minute(100, 3000), {
        webhookId: 'hook-2',
        url: 'https://e.com/bad',
        state: 'failed',
        attemptLog: [
          attempt(1, minute(100, 1000), 7, null, 'retry', 'connect ECONNREFUSED'),
          attempt(2, minute(100, 2000), 3, 503, 'failed'),
        ],
      });
      const old = reported('old', 1, minute(10), { attemptLog: [attempt(1, minute(10), 5, 500, 'failed')] });
      // still waiting: it entered the queue in minute 100
      const waiting = reported('waiting', 0, minute(100, 4000), { createdAt: minute(100, 4000) });
      await store.deliveries.saveReport({ id: d, userId: u }, [many, bad, old, waiting], minute(100), 100);
      await store.deliveries.saveReport(
        { id: dv, userId: v },
        [reported('theirs', 1, minute(100), { attemptLog: [attempt(1, minute(100), 1, 500, 'failed')] })],
        minute(100),
        100,
      );
      const m = message(u, d);
      await store.messages.insertMessage(m);
      const recipients = (state: 'Sent' | 'Delivered') =>
        m.recipients.map((r) => ({ phoneNumber: r.phoneNumber, state }));
      await store.messages.applyStateReport(
        d,
        { id: m.id, state: 'Sent', recipients: recipients('Sent'), states: { Sent: minute(99, 1) } },
        minute(99, 1),
      );
      await store.messages.applyStateReport(
        d,
        { id: m.id, state: 'Delivered', recipients: recipients('Delivered'), states: { Delivered: minute(100, 1) } },
        minute(100, 1),
      );

      const window = statsWindowFor('hour', minute(100, 30_000));
      assert.equal(window.since, minute(41));
      const stats = assembleStats('hour', window, {
        ...(await twin.deliveries.activityStats(u, window)),
        queueDepth: 0,
      });
      // counted back from the 1 pending now: minute 100 had one in and one out, minute 99 one out
      assert.equal(stats.queue.length, 60, 'every minute of the hour');
      assert.deepEqual(
        stats.queue.slice(-3).map((b) => [b.at, b.depth]),
        [
          [new Date(minute(98)).toISOString(), 2],
          [new Date(minute(99)).toISOString(), 1],
          [new Date(minute(100)).toISOString(), 1],
        ],
      );
      assert.equal(stats.queue[0].at, new Date(minute(41)).toISOString());
      assert.equal(stats.queue[0].depth, 2);
      assert.deepEqual(stats.attempts, [
        { at: new Date(minute(99)).toISOString(), succeeded: 1, retried: 99, failed: 0, p50Ms: 50, p99Ms: 99 },
        { at: new Date(minute(100)).toISOString(), succeeded: 0, retried: 1, failed: 1, p50Ms: 3, p99Ms: 7 },
      ]);
      assert.deepEqual(stats.messages, [
        { at: new Date(minute(99)).toISOString(), sent: 1, delivered: 0, failed: 0 },
        { at: new Date(minute(100)).toISOString(), sent: 0, delivered: 1, failed: 0 },
      ]);
      assert.deepEqual(stats.failingWebhooks, [
        {
          webhookId: 'hook-1',
          url: 'https://e.com/hook',
          failures: 99,
          lastFailedAt: new Date(minute(99, 990)).toISOString(),
          lastError: 'HTTP 500',
        },
        {
          webhookId: 'hook-2',
          url: 'https://e.com/bad',
          failures: 2,
          lastFailedAt: new Date(minute(100, 2000)).toISOString(),
          lastError: 'HTTP 503',
        },
      ]);
      const day = await store.deliveries.activityStats(u, statsWindowFor('day', minute(100, 30_000)));
      assert.equal(day.attempts.length, 3, 'the day also holds minute 10');
    });

    test('devices: the Local webhook list a device reports is kept (never an older one), for its user only; queue depths come from health reports', async () => {
      const [u, v] = [await user(), await user()];
      const d = await device(u);
      assert.deepEqual(
        await store.devices.getLocalWebhooks(u, d),
        { webhooks: null, reportedAt: null },
        'nothing reported yet',
      );
      const hooks = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          id: `local-${i}`,
          url: `https://e.com/${i}`,
          event: 'sms:received' as const,
          deviceId: null,
        }));
      await store.devices.saveLocalWebhooks(d, JSON.stringify(hooks(2)), 2000);
      await twin.devices.saveLocalWebhooks(d, JSON.stringify(hooks(5)), 1000); // overtaken
      assert.deepEqual(await twin.devices.getLocalWebhooks(u, d), { webhooks: hooks(2), reportedAt: 2000 });
      await store.devices.saveLocalWebhooks(d, '[]', 3000);
      assert.deepEqual(await store.devices.getLocalWebhooks(u, d), { webhooks: [], reportedAt: 3000 });
      assert.equal(await store.devices.getLocalWebhooks(v, d), undefined, "another user's device is not found");
      const d2 = await device(u);
      assert.deepEqual(
        (await twin.devices.listLocalWebhooks(u)).sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1)),
        [
          { deviceId: d, webhooks: [], reportedAt: 3000 },
          { deviceId: d2, webhooks: null, reportedAt: null },
        ].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1)),
        "all of the user's devices in one read",
      );
      assert.deepEqual(await store.devices.listLocalWebhooks(v), [], "none of another user's");

      const health = (queued: number) =>
        JSON.stringify({
          status: 'pass',
          version: '1',
          releaseId: 1,
          checks: {
            'webhooks:queue': { description: 'q', observedValue: queued, observedUnit: 'deliveries', status: 'pass' },
          },
        });
      const before = await twin.devices.queueDepthTotals();
      await store.devices.saveHealth(d, health(42), 4000);
      const after = await twin.devices.queueDepthTotals();
      assert.equal(after.sum, before.sum + 42, 'the reported depth is added to the sum');
      assert.equal(after.max, Math.max(before.max, 42));
      await store.devices.saveHealth(d2, health(7), 4000);
      assert.deepEqual(await store.devices.queueDepthTotals(), { sum: before.sum + 49, max: Math.max(before.max, 42) });
    });

    test('meta: the first value stored wins, on every store', async () => {
      const results = await Promise.all(['a', 'b', 'c', 'd'].map((v, i) => via(i).meta.setMetaIfAbsent('k', v)));
      assert.ok(['a', 'b', 'c', 'd'].includes(results[0]));
      assert.deepEqual(results, [results[0], results[0], results[0], results[0]], 'everyone reads back the winner');
      assert.equal(await twin.meta.getMeta('k'), results[0]);
      assert.equal(await store.meta.setMetaIfAbsent('k', 'late'), results[0]);
      assert.equal(await store.meta.getMeta('missing'), undefined);
    });

    test('health: ping answers while open', async () => {
      await store.health.ping();
    });
  });
}

describe('sqlite migrations', () => {
  test('reopening applies nothing twice and keeps the data; a newer schema is refused with advice', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'm.db');
      const first = openSqliteStore(file);
      await first.meta.setMetaIfAbsent('kept', 'yes');
      await first.close();
      const second = openSqliteStore(file);
      assert.equal(await second.meta.getMeta('kept'), 'yes');
      await second.close();

      const raw = new Database(file);
      assert.equal(raw.pragma('user_version', { simple: true }), serverMigrations('sqlite').length);
      raw.pragma(`user_version = ${serverMigrations('sqlite').length + 1}`);
      raw.close();
      assert.throws(() => openSqliteStore(file), /newer than this smsgate.*upgrade smsgate/);
    } finally {
      dir.remove();
    }
  });

  test('a closed store fails its health ping', async () => {
    const dir = tempDir();
    const store = openSqliteStore(join(dir.path, 'h.db'));
    await store.close();
    await assert.rejects(store.health.ping(), /closed/);
    dir.remove();
  });
});
