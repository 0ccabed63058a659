import { basic } from '../helpers/http.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice, eventually, tempDir } from '../helpers/device.ts';
import { createServer, type RunningServer } from '../../src/server/server.ts';
import { officialClient } from '../server/helpers.ts';
import { EVENT_NAMES } from '../../src/protocol/index.ts';
import { checkEveryEvent, produceEveryEvent } from '../helpers/every-event.ts';

let server: RunningServer;
let serverDir: ReturnType<typeof tempDir>;
let device: Awaited<ReturnType<typeof startTestDevice>>;
let receiver: TestReceiver;
let login: string;
let password: string;
/** How the test device links, beside the server's address and token. */
const LINK = { reconnect: { minDelayMs: 300, maxDelayMs: 1000 }, healthIntervalMs: 300, log: () => {} };
const thirdParty = (path: string, init: RequestInit = {}) =>
  fetch(`${server.thirdPartyUrl}${path}`, {
    ...init,
    headers: {
      authorization: basic(login, password),
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });

before(async () => {
  serverDir = tempDir();
  server = await createServer({ dataDir: serverDir.path, port: 0, keepAliveMs: 500 });
  receiver = await new TestReceiver().start();
  device = await startTestDevice({
    link: { ...LINK, serverUrl: server.url, privateToken: server.privateToken, name: 'linked test phone' },
  });
  login = device.link!.registration.login;
  password = device.link!.createdPassword!;
  assert.ok(password, 'the first registration created a server user');
});
let reusedDataDir: string | undefined;
after(async () => {
  await device.cleanup();
  if (reusedDataDir) rmSync(reusedDataDir, { recursive: true, force: true });
  await server.close();
  await receiver.stop();
  serverDir.remove();
});

test('a webhook registered on the server reaches the device in under 1 s and is delivered from there', async () => {
  const client = officialClient(login, password, server.thirdPartyUrl);
  await client.getWebhooks(); // log in first: the measure is the sync, not the password hash
  const started = performance.now();
  const hook = await client.registerWebhook({ url: `${receiver.url}/cloud`, event: 'sms:received' as never });
  await eventually(
    () => device.context.webhooks.list('Cloud').some((h) => h.id === hook.id),
    'the Cloud list to have the webhook',
    2000,
    5,
  );
  const syncMs = performance.now() - started;
  console.log(`# webhook sync, POST to Cloud list updated: ${syncMs.toFixed(1)} ms`);
  assert.ok(syncMs < 1000, `synced in ${syncMs} ms`);

  await device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'via the cloud' });
  await receiver.waitFor(1);
  const envelope = receiver.envelopes()[0];
  assert.equal(envelope.webhookId, hook.id);
  assert.equal(
    envelope.deviceId,
    device.link!.registration.id,
    "a Cloud webhook's deliveries carry the server's device id",
  );
  assert.equal(envelope.payload.message, 'via the cloud');

  // The two lists stay apart.
  const local = await device.api.call('POST', '/webhooks', { url: `${receiver.url}/local`, event: 'sms:received' });
  assert.deepEqual(
    (await device.api.call('GET', '/webhooks')).body.map((h: { id: string }) => h.id),
    [local.body.id],
    'Local API shows only Local',
  );
  const serverList = (await client.getWebhooks()).map((h) => h.id);
  assert.deepEqual(serverList, [hook.id], 'the server shows only its own');
  await device.api.call('DELETE', `/webhooks/${local.body.id}`);
  await client.deleteWebhook(hook.id!);
  await eventually(() => device.context.webhooks.list('Cloud').length === 0, 'the Cloud list to be emptied', 2000);
});

test('every event, batch events too, registers on the server ("" and null ids get one) and syncs to the device', async () => {
  const ids: string[] = [];
  for (const [index, event] of EVENT_NAMES.entries()) {
    const reply = await thirdParty('/webhooks', {
      method: 'POST',
      body: JSON.stringify({ id: index % 2 ? '' : null, url: `${receiver.url}/all/${event}`, event }),
    });
    assert.equal(reply.status, 201, event);
    const hook = (await reply.json()) as { id: string; event: string };
    assert.equal(hook.event, event);
    assert.match(hook.id, /^[A-Za-z0-9_-]{21}$/, 'an id was generated');
    ids.push(hook.id);
  }
  const listed = (await (await thirdParty('/webhooks')).json()) as { id: string; event: string }[];
  for (const event of EVENT_NAMES)
    assert.ok(
      listed.some((h) => h.event === event),
      `${event} listed`,
    );
  await eventually(
    () => ids.every((id) => device.context.webhooks.list('Cloud').some((h) => h.id === id)),
    'the Cloud list to hold all of them',
  );
  const synced = device.context.webhooks.list('Cloud').filter((h) => ids.includes(h.id));
  assert.deepEqual(synced.map((h) => h.event).sort(), [...EVENT_NAMES].sort());
  const authorization = basic(login, password);
  for (const id of ids) {
    const reply = await fetch(`${server.thirdPartyUrl}/webhooks/${id}`, {
      method: 'DELETE',
      headers: { authorization },
    });
    assert.equal(reply.status, 204);
  }
  await eventually(
    () => !device.context.webhooks.list('Cloud').some((h) => ids.includes(h.id)),
    'the Cloud list to drop them again',
  );
});

test("every event registered on the server is delivered by the device with exactly its payload keys, signed, with the server's device id", async () => {
  const ids: string[] = [];
  for (const event of EVENT_NAMES) {
    const reply = await thirdParty('/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: `${receiver.url}/cloud-every/${event}`, event }),
    });
    assert.equal(reply.status, 201);
    ids.push(((await reply.json()) as { id: string }).id);
  }
  await eventually(
    () => ids.every((id) => device.context.webhooks.list('Cloud').some((h) => h.id === id)),
    'the Cloud list to have them',
  );
  const dataDir = device.context.db.name.replace(/\/device\.db$/, '');
  reusedDataDir = dataDir;
  device = await produceEveryEvent(
    device,
    async () =>
      (device = await startTestDevice({
        dataDir,
        link: { ...LINK, serverUrl: server.url, privateToken: server.privateToken },
      })),
  );
  const delivered = () => receiver.requests.filter((r) => r.path.startsWith('/cloud-every/'));
  await eventually(
    () => EVENT_NAMES.every((event) => delivered().some((r) => r.path === `/cloud-every/${event}`)),
    'every event',
    10_000,
  );
  await device.api.call('PATCH', '/settings', { ping: { interval_seconds: null } });
  for (const request of delivered())
    assert.equal(request.path, `/cloud-every/${JSON.parse(request.rawBody).event}`, 'each webhook got its own event');
  checkEveryEvent(delivered(), {
    signingKey: device.context.settings.signingKey(),
    deviceId: device.link!.registration.id,
  });

  const authorization = basic(login, password);
  for (const id of ids)
    await fetch(`${server.thirdPartyUrl}/webhooks/${id}`, { method: 'DELETE', headers: { authorization } });
  await eventually(
    () => !device.context.webhooks.list('Cloud').some((h) => ids.includes(h.id)),
    'the Cloud list to drop them',
  );
});

test('a message sent through the server is sent by the device; events reach the receiver and the state matches', async () => {
  const client = officialClient(login, password, server.thirdPartyUrl);
  const hooks = [];
  for (const event of ['sms:sent', 'sms:delivered', 'sms:failed']) {
    hooks.push(await client.registerWebhook({ url: `${receiver.url}/${event}`, event: event as never }));
  }
  await eventually(() => device.context.webhooks.list('Cloud').length === 3, 'three Cloud webhooks');
  const before = receiver.requests.length;

  const ok = await client.send({ message: 'through the server', phoneNumbers: ['+15551239876'] });
  const magic = await client.send({ message: 'doomed', phoneNumbers: ['+15550000002'] });
  const okState = await eventually(
    async () => {
      const s = await client.getState(ok.id);
      return s.state === 'Delivered' ? s : null;
    },
    'Delivered on the server',
    5000,
  );
  assert.equal(okState.recipients[0].state, 'Delivered');
  const magicState = await eventually(
    async () => {
      const s = await client.getState(magic.id);
      return s.state === 'Failed' ? s : null;
    },
    'Failed on the server',
    5000,
  );
  assert.equal(magicState.recipients[0].state, 'Failed');
  assert.equal(magicState.recipients[0].error, 'RESULT_ERROR_NO_SERVICE');

  await receiver.waitFor(before + 3);
  const got = receiver
    .envelopes()
    .slice(before)
    .map((e) => `${e.event} ${e.payload.messageId}`)
    .sort();
  assert.deepEqual(got, [`sms:delivered ${ok.id}`, `sms:failed ${magic.id}`, `sms:sent ${ok.id}`].sort());
  for (const hook of hooks) await client.deleteWebhook(hook.id!);
});

test('an end-to-end encrypted message goes through the server as ciphertext; the device decrypts and sends it', async () => {
  const { vectors } = JSON.parse(readFileSync(new URL('../vectors/encryption.json', import.meta.url), 'utf8')) as {
    vectors: { name: string; passphrase: string; plaintext: string; encrypted: string }[];
  };
  const [text, number, refused] = ['ascii text', 'a phone number', 'a number the virtual carrier refuses'].map((name) =>
    vectors.find((v) => v.name === name)!,
  );
  // set on the device alone: the server never holds it
  assert.equal(
    (await device.api.call('PATCH', '/settings', { encryption: { passphrase: text.passphrase } })).status,
    200,
  );
  const posted = await thirdParty('/messages', {
    method: 'POST',
    body: JSON.stringify({
      textMessage: { text: text.encrypted },
      phoneNumbers: [number.encrypted, refused.encrypted],
      isEncrypted: true,
    }),
  });
  assert.equal(posted.status, 202);
  const { id } = await posted.json();
  const final = await eventually(
    async () => {
      const state = await (await thirdParty(`/messages/${id}`)).json();
      return (
        state.recipients.every((r: { state: string }) => ['Sent', 'Delivered', 'Failed'].includes(r.state)) && state
      );
    },
    'both recipients final on the server',
    5000,
  );
  // The carrier refused the clear magic number: the device decrypted it.
  assert.equal(final.isEncrypted, true);
  assert.deepEqual(
    final.recipients.map((r: { phoneNumber: string; error?: string }) => [r.phoneNumber, r.error ?? null]),
    [
      [number.encrypted, null],
      [refused.encrypted, 'RESULT_ERROR_GENERIC_FAILURE'],
    ],
  );
  const listed = await (await thirdParty('/messages?includeContent=true')).text();
  assert.ok(listed.includes(text.encrypted), 'the server lists the ciphertext');
  for (const clear of [text.plaintext, number.plaintext, refused.plaintext])
    assert.ok(!listed.includes(clear) && !JSON.stringify(final).includes(clear), `the server never saw ${clear}`);
  await device.api.call('PATCH', '/settings', { encryption: { passphrase: null } });
});

test('a message the device cannot send comes back Failed with the reason, and a pull full of them holds back no other', async () => {
  const client = officialClient(login, password, server.thirdPartyUrl);
  // More refused messages than one pull hands out (100): left Pending they would fill every pull.
  const refused = [];
  for (let i = 0; i < 101; i++)
    refused.push(
      await client.send({ message: `no such SIM ${i}`, phoneNumbers: ['+15551230000'], simNumber: 2 } as never),
    );
  await device.api.call('POST', '/message', {
    id: 'used-by-local-api',
    message: 'sent locally',
    phoneNumbers: ['+15551230001'],
  });
  const clash = await client.send({
    id: 'used-by-local-api',
    message: 'same id through the server',
    phoneNumbers: ['+15551230002'],
  });
  const ordinary = await client.send({ message: 'after them', phoneNumbers: ['+15551230003'] });

  const final = async (id: string) =>
    eventually(
      async () => {
        const s = await client.getState(id);
        return s.state === 'Delivered' || s.state === 'Failed' ? s : null;
      },
      `message ${id} to be Delivered or Failed`,
      8000,
    );
  assert.equal((await final(ordinary.id)).state, 'Delivered', 'the message behind the refused ones was sent');
  const noSim = await final(refused[100].id);
  assert.equal(noSim.state, 'Failed');
  assert.match(noSim.recipients[0].error ?? '', /simNumber 2/);
  const clashed = await final(clash.id);
  assert.equal(clashed.state, 'Failed');
  assert.match(clashed.recipients[0].error ?? '', /already has a message with id "used-by-local-api"/);
  assert.equal(device.context.sms.get('used-by-local-api')!.source, 'Local', "the Local API's message is untouched");
  const states = await Promise.all(refused.slice(0, 100).map((m) => client.getState(m.id)));
  assert.deepEqual([...new Set(states.map((s) => s.state))], ['Failed'], 'every refused message is Failed');
});

test('a dropped push connection: a webhook registered meanwhile is synced after the reconnect', async () => {
  const client = officialClient(login, password, server.thirdPartyUrl);
  const opensBefore = (device.link as unknown as { stream: { opens: number } }).stream.opens;
  device.link!.dropConnection();
  await eventually(() => !device.link!.connected, 'disconnected', 1000, 2);
  const hook = await client.registerWebhook({ url: `${receiver.url}/missed`, event: 'sms:sent' as never });
  await eventually(
    () => device.context.webhooks.list('Cloud').some((h) => h.id === hook.id),
    'the webhook after reconnect',
    5000,
  );
  assert.ok((device.link as unknown as { stream: { opens: number } }).stream.opens > opensBefore, 'it reconnected');
  await client.deleteWebhook(hook.id!);
});

test('settings changed on the server reach the device; the server never returns the signing key', async () => {
  const reply = await thirdParty('/settings', {
    method: 'PATCH',
    body: JSON.stringify({ webhooks: { retry_count: 4, signing_key: 'set-on-the-server' } }),
  });
  assert.equal(reply.status, 200);
  const echoed = await reply.json();
  assert.equal(echoed.webhooks?.signing_key, undefined, 'not echoed');
  await eventually(() => device.context.settings.get().webhooks.retry_count === 4, 'retry_count on the device');
  assert.equal(device.context.settings.get().webhooks.signing_key, 'set-on-the-server');
  const read = await (await thirdParty('/settings')).json();
  assert.equal(read.webhooks?.signing_key, undefined);
});

test('every settings group on the server (encryption, gateway, receiver too) reaches the device; write-only keys are never shown', async () => {
  const reply = await thirdParty('/settings', {
    method: 'PATCH',
    body: JSON.stringify({
      messages: { processing_order: 'FIFO', work_hours_start: '07:00', limit_period: 'Per30Minutes', limit_value: 5 },
      encryption: { passphrase: 'server-side secret' },
      gateway: { cloud_url: 'https://sms.example.com', private_token: 'private-tok', notification_channel: 'SSE_ONLY' },
      receiver: { content_provider_enabled: false },
    }),
  });
  assert.equal(reply.status, 200);
  const echoed = await reply.json();
  const read = await (await thirdParty('/settings')).json();
  for (const answer of [echoed, read]) {
    assert.doesNotMatch(JSON.stringify(answer), /server-side secret|private-tok|passphrase|private_token/);
    assert.deepEqual(answer.gateway, { cloud_url: 'https://sms.example.com', notification_channel: 'SSE_ONLY' });
    assert.deepEqual(answer.receiver, { content_provider_enabled: false });
    assert.equal(answer.messages.processing_order, 'FIFO');
  }
  await eventually(
    () => device.context.settings.get().encryption.passphrase === 'server-side secret',
    'the passphrase on the device',
  );
  const onDevice = device.context.settings.get();
  assert.deepEqual(onDevice.gateway, {
    cloud_url: 'https://sms.example.com',
    private_token: 'private-tok',
    notification_channel: 'SSE_ONLY',
  });
  assert.deepEqual(
    [onDevice.receiver.content_provider_enabled, onDevice.messages.work_hours_start, onDevice.messages.limit_period],
    [false, '07:00', 'Per30Minutes'],
  );

  for (const bad of [{ gateway: { sse: true } }, { media: {} }, { gateway: { cloud_url: 'ftp://x' } }]) {
    const refused = await thirdParty('/settings', { method: 'PATCH', body: JSON.stringify(bad) });
    assert.equal(refused.status, 400, JSON.stringify(bad));
    assert.ok(((await refused.json()) as { message: string }).message, 'a message');
  }
  // Back to the defaults, for the tests after this one.
  const reset = await thirdParty('/settings', {
    method: 'PATCH',
    body: JSON.stringify({
      messages: { processing_order: 'LIFO', work_hours_start: '09:00', limit_period: 'Disabled', limit_value: null },
      encryption: { passphrase: null },
      gateway: { cloud_url: null, private_token: null, notification_channel: 'AUTO' },
      receiver: { content_provider_enabled: true },
    }),
  });
  assert.equal(reset.status, 200, await reset.clone().text());
  await eventually(() => device.context.settings.get().encryption.passphrase === null, 'the passphrase cleared');
});

test('each ping updates lastSeen on the server', async () => {
  const devicesBefore = await (await thirdParty('/devices')).json();
  const lastSeenBefore = Date.parse(devicesBefore[0].lastSeen);
  await new Promise((r) => setTimeout(r, 20));
  device.context.events.emit('system:ping', { health: device.context.health() });
  await eventually(async () => {
    const devices = await (await thirdParty('/devices')).json();
    return Date.parse(devices[0].lastSeen) > lastSeenBefore;
  }, 'lastSeen to move');
});

test('the device reports its health to the server: the Devices list shows its queue depth as it changes', async () => {
  const queueOnServer = async () => {
    const [listed] = await (await thirdParty('/devices')).json();
    return listed.health?.checks['webhooks:queue']?.observedValue as number | undefined;
  };
  await eventually(async () => (await queueOnServer()) === 0, 'the first report, with an empty queue');
  const hook = await (
    await thirdParty('/webhooks', {
      method: 'POST',
      body: JSON.stringify({ url: receiver.url + '/health-queue', event: 'sms:received' }),
    })
  ).json();
  await eventually(
    () => device.context.webhooks.list('Cloud').some((h) => h.id === hook.id),
    'the webhook on the device',
  );
  device.context.network.set(false); // deliveries wait while offline
  try {
    for (let i = 0; i < 3; i++)
      await device.context.carrier.receive({ from: '+15550001234', text: `queued ${i}`, simNumber: 1 });
    await eventually(async () => (await queueOnServer()) === 3, 'queue depth 3 on the server', 5000);
    const [listed] = await (await thirdParty('/devices')).json();
    assert.equal(listed.health.checks['connection:status'].observedValue, 0, 'it reported being offline');
    assert.ok(Date.parse(listed.health.reportedAt) <= Date.now());
  } finally {
    device.context.network.set(true);
  }
  await eventually(async () => (await queueOnServer()) === 0, 'the queue drained, as reported', 5000);
  assert.equal(receiver.requests.filter((r) => r.path === '/health-queue').length, 3);
  await thirdParty(`/webhooks/${hook.id}`, { method: 'DELETE' });
});

test('a restarted device reuses its registration', async () => {
  const id = device.link!.registration.id;
  const dataDir = device.context.db.name.replace(/\/device\.db$/, '');
  reusedDataDir = dataDir;
  await device.stop();
  device = await startTestDevice({
    dataDir,
    link: { serverUrl: server.url, privateToken: server.privateToken, log: () => {} },
  });
  assert.equal(device.link!.registration.id, id);
  assert.equal(device.link!.createdPassword, undefined, 'no new user');
  const devices = await (await thirdParty('/devices')).json();
  assert.equal(devices.length, 1);
});
