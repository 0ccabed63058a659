import { createHash } from 'node:crypto';
import { redactUrl } from '../../src/protocol/redact.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../helpers/device.ts';
import type { RunningProcess } from '../helpers/process.ts';
import { runSmsgate } from '../server/helpers.ts';
import { register } from '../../src/device/link/mobile-client.ts';
import { api, basicAuth, createTestDatabase, query, startTwoNodesWithDevice, type TestDatabase } from './helpers.ts';
import { openStream } from '../helpers/sse.ts';

/**
 * Two `smsgate server` processes on one PostgreSQL database (what runs behind a load balancer),
 * a real device linked to node 1 and a real receiver.
 */
const TOKEN = 'multi-node-private-token';
let db: TestDatabase;
let setup: Awaited<ReturnType<typeof startTwoNodesWithDevice>>;
let node1: RunningProcess;
let node2: RunningProcess;
let device: typeof setup.device;
let receiver: typeof setup.receiver;
let auth: string;
const url = (node: RunningProcess) => setup.url(node);
const thirdParty = (node: RunningProcess, path: string) => setup.thirdParty(node, path);
const cloudHooks = () => setup.cloudHooks();

before(async () => {
  db = await createTestDatabase();
  setup = await startTwoNodesWithDevice(db.url, TOKEN);
  ({ node1, node2, device, receiver, auth } = setup);
});

after(async () => {
  await setup?.stop();
  await db?.drop();
});

test('both nodes report PostgreSQL and a working LISTEN connection in /health', async () => {
  for (const node of [node1, node2]) {
    const health = await api(`${url(node)}/health`, 'GET', '');
    assert.equal(health.status, 200);
    assert.equal(health.body.checks['db:ping'].status, 'pass');
    assert.equal(health.body.checks['events:listen'].status, 'pass');
    assert.ok(
      node.output.some((line) => line.includes(`storage:      postgres ${redactUrl(db.url)}`)),
      `the storage line names the database (${redactUrl(db.url)}); the node printed:\n${node.output.join('\n')}`,
    );
  }
});

test('a webhook registered through node 2 reaches the device on node 1, which delivers to the receiver', async () => {
  // Log in on node 2 first (scrypt once; later requests hit the auth cache), so the timing below is the push.
  assert.equal((await api(thirdParty(node2, '/webhooks'), 'GET', auth)).status, 200);
  const started = performance.now();
  const created = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    url: `${receiver.url}/cross-node`,
    event: 'sms:received',
  });
  assert.equal(created.status, 201);
  // The device does not poll: only the push (node 2 -> NOTIFY -> node 1 -> its stream) brings it.
  await eventually(() => cloudHooks().some((h) => h.id === created.body.id), 'the webhook on the device', 3000, 5);
  console.log(`# webhook via node 2 -> device on node 1: ${(performance.now() - started).toFixed(1)} ms`);

  const before = receiver.requests.length;
  assert.equal(
    (await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'hello across nodes' })).status,
    202,
  );
  await receiver.waitFor(before + 1);
  const envelope = receiver.envelopes()[before];
  assert.equal(envelope.webhookId, created.body.id);
  assert.equal(envelope.event, 'sms:received');
  assert.equal(envelope.payload.message, 'hello across nodes');
  assert.equal(receiver.requests[before].path, '/cross-node');

  assert.equal((await api(thirdParty(node1, `/webhooks/${created.body.id}`), 'DELETE', auth)).status, 204);
  await eventually(
    () => !cloudHooks().some((h) => h.id === created.body.id),
    'the removal (through node 1) on the device',
    3000,
  );
});

test("a node that has the webhook list in memory sees the other node's writes within milliseconds", async () => {
  const list = async (node: typeof node1) => {
    const reply = await api(thirdParty(node, '/webhooks'), 'GET', auth);
    assert.equal(reply.status, 200);
    return (reply.body as { id: string; url: string }[]).map((h) => `${h.id} ${h.url}`);
  };
  const before = await list(node1);
  assert.deepEqual(await list(node1), before, 'the second answer (from memory) is the first');

  const waitFor = async (want: (hooks: string[]) => boolean, what: string) => {
    const started = performance.now();
    await eventually(async () => want(await list(node1)), what, 3000, 2);
    return performance.now() - started;
  };
  const created = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    url: `${receiver.url}/cached`,
    event: 'sms:sent',
  });
  assert.equal(created.status, 201);
  const seenIn = await waitFor(
    (hooks) => hooks.includes(`${created.body.id} ${receiver.url}/cached`),
    'the new webhook on node 1',
  );
  const changed = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    id: created.body.id,
    url: `${receiver.url}/changed`,
    event: 'sms:sent',
  });
  assert.equal(changed.status, 201);
  await waitFor(
    (hooks) => hooks.includes(`${created.body.id} ${receiver.url}/changed`),
    'the replaced webhook on node 1',
  );
  assert.equal((await api(thirdParty(node2, `/webhooks/${created.body.id}`), 'DELETE', auth)).status, 204);
  await waitFor((hooks) => !hooks.some((h) => h.startsWith(`${created.body.id} `)), 'the removal on node 1');
  assert.deepEqual(await list(node1), before);
  console.log(`# write on node 2 -> GET on node 1: ${seenIn.toFixed(1)} ms`);
});

test('a message sent through node 2 is sent by the device; its state is readable through node 1', async () => {
  const sent = await api(thirdParty(node2, '/messages'), 'POST', auth, {
    message: 'sent via node 2',
    phoneNumbers: ['+15551230000'],
  });
  assert.equal(sent.status, 202);
  assert.equal(sent.body.state, 'Pending');
  const state = await eventually(
    async () => {
      const got = await api(thirdParty(node1, `/messages/${sent.body.id}`), 'GET', auth);
      return got.status === 200 && got.body.state === 'Delivered' ? got.body : null;
    },
    'Delivered, read through node 1',
    5000,
  );
  assert.equal(state.deviceId, device.link!.registration.id);
  // final: only the number's hash is kept (isHashed)
  assert.equal(state.isHashed, true);
  assert.deepEqual(state.recipients, [
    { phoneNumber: createHash('sha256').update('+15551230000').digest('hex').slice(0, 16), state: 'Delivered' },
  ]);
  assert.deepEqual(Object.keys(state.states), ['Pending', 'Processed', 'Sent', 'Delivered']);
  assert.equal(device.context.sms.get(sent.body.id)?.text, 'sent via node 2', 'the device has the message');
  const viaNode2 = await api(thirdParty(node2, `/messages/${sent.body.id}`), 'GET', auth);
  assert.deepEqual(viaNode2.body, state, 'both nodes answer the same');
});

test("a dashboard's live stream on node 2 shows what the device reports to node 1; Redeliver through node 2 reaches the device", async () => {
  const live = await openStream(thirdParty(node2, '/events/stream'), auth);
  try {
    const hook = await device.api.call('POST', '/webhooks', {
      url: `${receiver.url}/live-across`,
      event: 'sms:received',
    });
    assert.equal(hook.status, 201);
    const injected = await device.api.call('POST', '/sim/v1/incoming', { from: '+15550199', text: 'seen on node 2' });
    const [id] = injected.body.deliveryIds;
    // The device reports to node 1 only; node 1's NOTIFY brings it to the stream held by node 2.
    await eventually(
      () => live.frames.some((f) => f.type === 'attempt' && f.data.deliveryId === id && f.data.status === 200),
      'the attempt on node 2',
      5000,
    );
    const event = live.frames.find((f) => f.type === 'event' && f.data.eventId === injected.body.eventId);
    assert.ok(event, 'the event on node 2');
    assert.deepEqual(
      [event.data.event, event.data.payload.message, event.data.deviceId],
      ['sms:received', 'seen on node 2', device.link!.registration.id],
    );
    const copy = await api(thirdParty(node2, `/deliveries/${id}`), 'GET', auth);
    assert.equal(copy.status, 200);
    assert.deepEqual(
      copy.body.attemptLog.map((a: { status: number }) => a.status),
      [200],
    );

    // node 2 pushes the request to the device, whose stream is on node 1; the new attempt comes back the same way
    const asked = await api(thirdParty(node2, `/deliveries/${id}/redeliver`), 'POST', auth);
    assert.equal(asked.status, 202);
    await eventually(
      () => live.frames.some((f) => f.type === 'attempt' && f.data.deliveryId === id && f.data.attempt === 2),
      'the redelivered attempt on node 2',
      5000,
    );
    assert.equal((await device.api.call('GET', `/deliveries/${id}`)).body.attempts, 2, 'the device made it');
    assert.equal(
      live.frames.filter((f) => f.type === 'event' && f.data.eventId === injected.body.eventId).length,
      1,
      'each event once',
    );
    await device.api.call('DELETE', `/webhooks/${hook.body.id}`);
  } finally {
    live.close();
  }
});

test('20 concurrent upserts of one webhook id through both nodes leave exactly one row, and the device ends with it', async () => {
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      api(thirdParty(i % 2 ? node2 : node1, '/webhooks'), 'POST', auth, {
        id: 'raced-hook',
        url: `${receiver.url}/race/${i}`,
        event: 'sms:sent',
      }),
    ),
  );
  assert.deepEqual(
    replies.map((r) => r.status),
    Array(20).fill(201),
  );
  const rows = await query<{ url: string }>(db.url, `SELECT url FROM webhooks WHERE id = 'raced-hook'`);
  assert.equal(rows.length, 1, 'one row in the database');
  // Either node may have cached the list: the last write's notification reaches both within milliseconds.
  for (const node of [node1, node2]) {
    await eventually(
      async () => {
        const listed = (await api(thirdParty(node, '/webhooks'), 'GET', auth)).body.filter(
          (h: { id: string }) => h.id === 'raced-hook',
        );
        return listed.length === 1 && listed[0].url === rows[0].url;
      },
      'the stored version in GET /webhooks',
      3000,
      5,
    );
  }
  // The last write pushed last: the device converges on the stored URL.
  await eventually(
    () => {
      const hooks = cloudHooks().filter((h) => h.id === 'raced-hook');
      return hooks.length === 1 && hooks[0].url === rows[0].url;
    },
    'the device to hold the stored version of the raced webhook',
    3000,
  );
  assert.equal((await api(thirdParty(node2, '/webhooks/raced-hook'), 'DELETE', auth)).status, 204);
});

test('state reports through both nodes never move a message backwards', async () => {
  // A second phone of its own user, driven by hand through the mobile API, so reports can be raced.
  const phone = await register(url(node2), { privateToken: TOKEN, name: 'raced phone' });
  const owner = basicAuth(phone.login, phone.password!);
  // it connects once, so messages without deviceId may go to it
  assert.equal((await api(`${url(node2)}/mobile/v1/device`, 'GET', `Bearer ${phone.token}`)).status, 200);
  const mobile = (node: RunningProcess) => `${url(node)}/mobile/v1/message`;
  const report = (id: string, state: string, at: string) => [
    { id, state, recipients: [{ phoneNumber: '+15559870000', state }], states: { [state]: at } },
  ];
  const patch = (node: RunningProcess, body: unknown) => api(mobile(node), 'PATCH', `Bearer ${phone.token}`, body);
  const send = async () => {
    const sent = await api(thirdParty(node1, '/messages'), 'POST', owner, {
      message: 'race me',
      phoneNumbers: ['+15559870000'],
    });
    assert.equal(sent.status, 202);
    return sent.body.id as string;
  };
  const stateOf = async (id: string) => (await api(thirdParty(node2, `/messages/${id}`), 'GET', owner)).body;

  // One after the other: Delivered through node 1, then a late Sent through node 2.
  const first = await send();
  assert.equal((await patch(node1, report(first, 'Delivered', '2030-01-01T00:00:03Z'))).status, 204);
  assert.equal((await patch(node2, report(first, 'Sent', '2030-01-01T00:00:02Z'))).status, 204);
  const afterLate = await stateOf(first);
  assert.equal(afterLate.state, 'Delivered');
  assert.equal(afterLate.recipients[0].state, 'Delivered');

  // At once: Delivered goes first, 19 earlier states race behind it through both nodes.
  const second = await send();
  const states = ['Delivered', ...Array.from({ length: 19 }, (_, i) => ['Processed', 'Sent'][i % 2])];
  const replies = await Promise.all(
    states.map((state, i) =>
      patch(
        i % 2 ? node2 : node1,
        report(second, state, `2030-01-01T00:00:0${1 + (state === 'Sent' ? 1 : state === 'Delivered' ? 2 : 0)}Z`),
      ),
    ),
  );
  assert.deepEqual(
    replies.map((r) => r.status),
    Array(20).fill(204),
    'no report failed (no deadlock, no error)',
  );
  const raced = await stateOf(second);
  assert.equal(raced.state, 'Delivered');
  assert.equal(raced.recipients[0].state, 'Delivered');
  assert.deepEqual(raced.states, {
    Pending: raced.states.Pending,
    Processed: '2030-01-01T00:00:01.000Z',
    Sent: '2030-01-01T00:00:02.000Z',
    Delivered: '2030-01-01T00:00:03.000Z',
  });
});

test('`smsgate users add --db postgres://…` makes a user both nodes accept', async () => {
  const added = await runSmsgate([
    'users',
    'add',
    '--db',
    db.url,
    '--login',
    'admin-made',
    '--password',
    'long-enough-pw',
  ]);
  assert.equal(added.code, 0, added.stderr);
  for (const node of [node1, node2]) {
    const reply = await api(thirdParty(node, '/webhooks'), 'GET', basicAuth('admin-made', 'long-enough-pw'));
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, []);
  }
  const listed = await runSmsgate(['users', 'list'], { env: { DATABASE_URL: db.url } });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^admin-made\t/m, 'DATABASE_URL chooses the database too');
});
