/**
 * Tenant isolation (issue 7, item 6), generated: N users, each with devices registered through the
 * mobile API, webhooks (bound to a device or not), messages and settings. Ids are drawn from a
 * small shared pool as well, so that different users hold the same ids. Then every user tries
 * every other user's ids on every 3rdparty route (under both prefixes), and every device token
 * tries every other device's messages and ids on the mobile API.
 *
 * No leak: no answer to an attacker contains anything of another tenant (webhook URLs, device ids
 * and names, phone numbers, signing keys, generated message ids) that the attacker did not send
 * itself. No change: afterwards every owner reads back exactly what it had, plus its own writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { EVENT_NAMES } from '../../src/protocol/index.ts';
import { startTestServer, newDevice, basic, bearer, call, type Reply, type TestServer } from '../server/helpers.ts';

const USERS = 4;
const RUNS = Number(process.env.ISOLATION_RUNS ?? 3);
const PREFIXES = ['/3rdparty/v1', '/api/3rdparty/v1'];
/** ids several users will hold at once */
const SHARED_IDS = ['order-1', 'order-2', 'hook-a', 'shared'];

interface UserSpec {
  devices: number;
  webhooks: { id: string | null; device: number | null; event: string }[];
  messages: { id: string | null; device: number; recipients: number }[];
}

const userArb: fc.Arbitrary<UserSpec> = fc.record({
  devices: fc.integer({ min: 1, max: 3 }),
  webhooks: fc.array(
    fc.record({
      id: fc.option(fc.constantFrom(...SHARED_IDS), { freq: 2 }),
      device: fc.option(fc.nat({ max: 2 }), { freq: 2 }),
      event: fc.constantFrom(...EVENT_NAMES),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  messages: fc.array(
    fc.record({
      id: fc.option(fc.constantFrom(...SHARED_IDS), { freq: 2 }),
      device: fc.nat({ max: 2 }),
      recipients: fc.integer({ min: 1, max: 3 }),
    }),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
});

interface Webhook {
  id: string;
  url: string;
  event: string;
  deviceId: string | null;
}

interface Tenant {
  index: number;
  login: string;
  password: string;
  auth: string;
  devices: { id: string; name: string; token: string }[];
  /** the model: what the owner must read back at the end */
  webhooks: Map<string, Webhook>;
  messages: Map<
    string,
    { id: string; deviceId: string; phoneNumbers: string[]; state: string; recipientStates: string[] }
  >;
  settings: unknown;
  /** set through the server (private mode): the user's devices sign with it; integrators never see it */
  signingKey: string;
  /** what must never reach another tenant */
  secrets: string[];
}

const tag = () => randomBytes(6).toString('hex');

async function expectStatus(reply: Reply, status: number | number[], what: string): Promise<Reply> {
  const allowed = [status].flat();
  assert.ok(allowed.includes(reply.status), `${what}: ${reply.status} ${reply.text}`);
  return reply;
}

async function buildTenant(server: TestServer, index: number, spec: UserSpec): Promise<Tenant> {
  const secret = tag();
  const first = await newDevice(server, `phone-u${index}-0-${secret}`);
  const tenant: Tenant = {
    index,
    login: first.login,
    password: first.password,
    auth: basic(first.login, first.password),
    devices: [{ id: first.registration.id, name: `phone-u${index}-0-${secret}`, token: first.registration.token }],
    webhooks: new Map(),
    messages: new Map(),
    settings: undefined,
    signingKey: `key-u${index}-${secret}`,
    secrets: [],
  };
  for (let d = 1; d < spec.devices; d++) {
    const name = `phone-u${index}-${d}-${secret}`;
    const more = await newDevice(server, name, { login: first.login, password: first.password });
    tenant.devices.push({ id: more.registration.id, name, token: more.registration.token });
  }
  const api = (path: string) => `${server.thirdPartyUrl}${path}`;

  for (const [k, w] of spec.webhooks.entries()) {
    const body = {
      ...(w.id ? { id: w.id } : {}),
      url: `https://u${index}-${secret}.example.com/hook/${k}`,
      event: w.event,
      deviceId: w.device === null ? null : tenant.devices[w.device % tenant.devices.length].id,
    };
    const reply = await expectStatus(
      await call(api('/webhooks'), 'POST', { auth: tenant.auth, body }),
      201,
      'register a webhook',
    );
    tenant.webhooks.set(reply.body.id, reply.body); // an id used twice: the second replaces the first (upsert)
  }
  for (const [k, m] of spec.messages.entries()) {
    const deviceId = tenant.devices[m.device % tenant.devices.length].id;
    const phoneNumbers = Array.from(
      { length: m.recipients },
      (_, r) => `+1555${index}${k}${r}${String(parseInt(secret.slice(0, 6), 16)).slice(0, 6)}`,
    );
    const body = { ...(m.id ? { id: m.id } : {}), message: `text u${index} ${secret}`, phoneNumbers, deviceId };
    const reply = await call(api('/messages'), 'POST', { auth: tenant.auth, body });
    if (m.id && tenant.messages.has(m.id)) {
      await expectStatus(reply, 409, 'a message id used twice by one user');
      continue;
    }
    await expectStatus(reply, 202, 'send a message');
    tenant.messages.set(reply.body.id, {
      id: reply.body.id,
      deviceId,
      phoneNumbers,
      state: 'Pending',
      recipientStates: phoneNumbers.map(() => 'Pending'),
    });
  }
  const settings = await call(api('/settings'), 'PATCH', {
    auth: tenant.auth,
    body: {
      messages: { limit_period: 'PerDay', limit_value: 1000 + index },
      webhooks: { signing_key: tenant.signingKey },
    },
  });
  tenant.settings = (await expectStatus(settings, 200, 'patch settings')).body;

  tenant.secrets = [
    ...[...tenant.webhooks.values()].map((w) => w.url),
    ...tenant.devices.flatMap((d) => [d.id, d.name, d.token]),
    ...[...tenant.messages.values()].flatMap((m) => [...m.phoneNumbers, ...(SHARED_IDS.includes(m.id) ? [] : [m.id])]),
    ...[...tenant.webhooks.keys()].filter((id) => !SHARED_IDS.includes(id)),
    tenant.signingKey,
    secret,
  ];
  return tenant;
}

/** The answer holds nothing of `victim` that the request did not carry itself. */
function assertNoLeak(reply: Reply, victim: Tenant, sent: string, what: string): void {
  for (const secret of victim.secrets) {
    if (sent.includes(secret)) continue;
    assert.ok(
      !reply.text.includes(secret),
      `${what}: user ${victim.index}'s "${secret}" leaked in ${reply.status} ${reply.text.slice(0, 300)}`,
    );
  }
}

/** What the owner reads back must be the model, exactly. */
async function assertUnchanged(server: TestServer, tenant: Tenant): Promise<void> {
  const who = `user ${tenant.index}`;
  for (const prefix of PREFIXES) {
    const base = `${server.url}${prefix}`;
    const hooks = await call(`${base}/webhooks`, 'GET', { auth: tenant.auth });
    const byId = (a: Webhook, b: Webhook) => a.id.localeCompare(b.id);
    assert.deepEqual([...hooks.body].sort(byId), [...tenant.webhooks.values()].sort(byId), `${who}'s webhooks changed`);

    const devices = await call(`${base}/devices`, 'GET', { auth: tenant.auth });
    const ids = (list: { id: string; name: string }[]) => list.map((d) => `${d.id} ${d.name}`).sort();
    assert.deepEqual(ids(devices.body), ids(tenant.devices), `${who}'s devices changed`);

    for (const m of tenant.messages.values()) {
      const read = await call(`${base}/messages/${encodeURIComponent(m.id)}`, 'GET', { auth: tenant.auth });
      assert.equal(read.status, 200, `${who}'s message ${m.id} is gone`);
      assert.equal(read.body.deviceId, m.deviceId);
      assert.equal(read.body.state, m.state, `${who}'s message ${m.id} changed state`);
      assert.deepEqual(
        read.body.recipients.map((r: { phoneNumber: string; state: string }) => `${r.phoneNumber} ${r.state}`),
        m.phoneNumbers.map((p, i) => `${p} ${m.recipientStates[i]}`),
        `${who}'s message ${m.id} recipients changed`,
      );
    }
    assert.deepEqual(
      (await call(`${base}/settings`, 'GET', { auth: tenant.auth })).body,
      tenant.settings,
      `${who}'s settings changed`,
    );
  }
  for (const device of tenant.devices) {
    const mobile = (path: string) => call(`${server.mobileUrl}${path}`, 'GET', { auth: bearer(device.token) });
    assert.equal((await mobile('/device')).body.device.id, device.id, `${who}'s device token works for its device`);
    const expectedHooks = [...tenant.webhooks.values()]
      .filter((w) => w.deviceId === null || w.deviceId === device.id)
      .map((w) => w.id)
      .sort();
    assert.deepEqual(
      (await mobile('/webhooks')).body.map((w: Webhook) => w.id).sort(),
      expectedHooks,
      `device ${device.id}: its own webhooks plus the user's device-less ones`,
    );
    const expectedPending = [...tenant.messages.values()]
      .filter((m) => m.deviceId === device.id && m.state === 'Pending')
      .map((m) => m.id)
      .sort();
    assert.deepEqual(
      (await mobile('/message')).body.map((m: { id: string }) => m.id).sort(),
      expectedPending,
      `device ${device.id}: its pending messages`,
    );
    assert.equal(
      (await mobile('/settings')).body.webhooks?.signing_key,
      tenant.signingKey,
      `device ${device.id} signs with its own user's key`,
    );
  }
}

/** Every 3rdparty route, with the victim's ids, as the attacker. */
async function attack3rdParty(server: TestServer, attacker: Tenant, victim: Tenant): Promise<void> {
  for (const prefix of PREFIXES) {
    const base = `${server.url}${prefix}`;
    const as = async (method: string, path: string, body?: unknown) => {
      const reply = await call(`${base}${path}`, method, { auth: attacker.auth, body });
      assertNoLeak(
        reply,
        victim,
        path + JSON.stringify(body ?? ''),
        `user ${attacker.index} ${method} ${prefix}${path}`,
      );
      assert.ok(reply.status < 500, `${method} ${prefix}${path}: ${reply.status} ${reply.text}`);
      return reply;
    };

    for (const path of ['/webhooks', '/devices', '/settings', '/messages', '/messages?limit=100'])
      await expectStatus(await as('GET', path), 200, `GET ${path}`);

    for (const hook of victim.webhooks.values()) {
      // The same id from the attacker is the attacker's own webhook (ids are per user) ...
      const own = { id: hook.id, url: `https://u${attacker.index}-own.example.com/${hook.id}`, event: hook.event };
      const upsert = await expectStatus(await as('POST', '/webhooks', own), 201, 'upsert with the victim webhook id');
      assert.equal(upsert.body.deviceId, null);
      attacker.webhooks.set(hook.id, upsert.body);
      // ... and deleting that id deletes the attacker's own, never the victim's.
      await expectStatus(
        await as('DELETE', `/webhooks/${encodeURIComponent(hook.id)}`),
        204,
        'delete by the victim webhook id',
      );
      attacker.webhooks.delete(hook.id);
    }

    for (const device of victim.devices) {
      await expectStatus(
        await as('POST', '/webhooks', {
          url: `https://u${attacker.index}-own.example.com/x`,
          event: 'sms:received',
          deviceId: device.id,
        }),
        400,
        "a webhook on the victim's device",
      );
      await expectStatus(
        await as('POST', '/messages', { message: 'hi', phoneNumbers: ['+15550100'], deviceId: device.id }),
        400,
        "a message through the victim's device",
      );
      await expectStatus(
        await as('DELETE', `/devices/${encodeURIComponent(device.id)}`),
        404,
        "delete the victim's device",
      );
      const filtered = await expectStatus(
        await as('GET', `/messages?deviceId=${encodeURIComponent(device.id)}`),
        200,
        "list the victim's device messages",
      );
      assert.deepEqual(filtered.body, []);
    }

    for (const message of victim.messages.values()) {
      const read = await as('GET', `/messages/${encodeURIComponent(message.id)}`);
      if (attacker.messages.has(message.id)) {
        // a shared id: the attacker's own message, never the victim's
        await expectStatus(read, 200, 'read own message with a shared id');
        assert.equal(read.body.deviceId, attacker.messages.get(message.id)!.deviceId);
      } else {
        await expectStatus(read, 404, "read the victim's message");
      }
      // the alias path too
      await expectStatus(
        await as('GET', `/message/${encodeURIComponent(message.id)}`),
        attacker.messages.has(message.id) ? 200 : 404,
        'the /message alias',
      );
    }

    // Changing one's own settings changes nobody else's.
    const patched = await expectStatus(
      await as('PATCH', '/settings', { messages: { limit_value: 2000 + attacker.index } }),
      200,
      'patch own settings',
    );
    attacker.settings = patched.body;
    const put = await expectStatus(await as('PUT', '/settings', attacker.settings), 200, 'put own settings');
    attacker.settings = put.body;
  }
}

/** Every mobile route that takes an id or returns data, with one device's token against another device. */
async function attackMobile(
  server: TestServer,
  attacker: Tenant,
  device: Tenant['devices'][number],
  victim: Tenant,
  target: Tenant['devices'][number],
): Promise<void> {
  const as = async (method: string, path: string, body?: unknown, auth = bearer(device.token)) => {
    const reply = await call(`${server.mobileUrl}${path}`, method, { auth, body });
    if (victim !== attacker)
      assertNoLeak(reply, victim, JSON.stringify(body ?? ''), `device ${device.id} ${method} ${path}`);
    assert.ok(reply.status < 500, `${method} ${path}: ${reply.status} ${reply.text}`);
    return reply;
  };
  // Reports about the other device's messages are ignored (unless this device holds the same id itself).
  const reports = [...victim.messages.values()]
    .filter((m) => m.deviceId === target.id && !(attacker.messages.get(m.id)?.deviceId === device.id))
    .map((m) => ({
      id: m.id,
      state: 'Failed',
      recipients: m.phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Failed', error: 'spoofed' })),
      states: { Failed: new Date().toISOString() },
    }));
  if (reports.length > 0)
    await expectStatus(await as('PATCH', '/message', reports), 204, "report on another device's messages");

  await expectStatus(
    await as('PATCH', '/device', { id: target.id, pushToken: 'hijacked' }),
    403,
    'update another device',
  );
  for (const path of ['/device', '/message', '/webhooks', '/settings'])
    await expectStatus(await as('GET', path), 200, `GET ${path}`);
  // A device token is not a private token: it registers nothing, on anyone's account.
  await expectStatus(
    await as(
      'POST',
      '/device',
      { name: 'intruder' },
      bearer(target.token.slice(0, -1) + (target.token.endsWith('A') ? 'B' : 'A')),
    ),
    401,
    'register with a forged token',
  );
}

test(
  `tenant isolation, generated: ${USERS} users with devices, webhooks, messages and settings; every user tries every other's ids on every route (${RUNS} worlds)`,
  { timeout: 600_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(userArb, { minLength: USERS, maxLength: USERS }), async (specs) => {
        // Forged tokens are sent on purpose, from one address: a high login throttle keeps them 401.
        // the model compares numbers as sent: final messages keep them (hashing is tested on its own)
        const server = await startTestServer({ loginThrottle: { maxFailures: 100_000 }, keepMessageContent: true });
        try {
          const tenants: Tenant[] = [];
          for (const [i, spec] of specs.entries()) tenants.push(await buildTenant(server, i, spec));
          // the model matches the server before anyone attacks
          for (const tenant of tenants) await assertUnchanged(server, tenant);

          for (const attacker of tenants) {
            for (const victim of tenants) if (victim !== attacker) await attack3rdParty(server, attacker, victim);
          }
          for (const attacker of tenants) {
            for (const device of attacker.devices) {
              for (const victim of tenants) {
                for (const target of victim.devices)
                  if (target !== device) await attackMobile(server, attacker, device, victim, target);
              }
            }
          }

          for (const tenant of tenants) await assertUnchanged(server, tenant);

          // The control: the same report from the device that holds the message does apply, so
          // "ignored" above means refused, not a route that ignores everything.
          const owner = tenants.find((t) => t.messages.size > 0)!;
          const message = [...owner.messages.values()][0];
          const holder = owner.devices.find((d) => d.id === message.deviceId)!;
          const report = [
            {
              id: message.id,
              state: 'Failed',
              recipients: message.phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Failed' })),
            },
          ];
          await expectStatus(
            await call(`${server.mobileUrl}/message`, 'PATCH', { auth: bearer(holder.token), body: report }),
            204,
            'report by the holder',
          );
          message.state = 'Failed';
          message.recipientStates = message.phoneNumbers.map(() => 'Failed');
          for (const tenant of tenants) await assertUnchanged(server, tenant);
        } finally {
          await server.cleanup();
        }
      }),
      { numRuns: RUNS, endOnFailure: true, includeErrorInReport: true },
    );
  },
);
