import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '../helpers/device.ts';
import type { RunningProcess } from '../helpers/process.ts';
import {
  api,
  createTestDatabase,
  startPrivateCluster,
  startTwoNodesWithDevice,
  type PrivateCluster,
} from './helpers.ts';

/**
 * PostgreSQL goes away and comes back while two nodes run. This stops and starts a private,
 * throwaway cluster: the machine's shared one is in use by other test files.
 */
const TOKEN = 'restart-private-token';
let cluster: PrivateCluster | undefined;
let setup: Awaited<ReturnType<typeof startTwoNodesWithDevice>> | undefined;
let node1: RunningProcess;
let node2: RunningProcess;
let receiver: NonNullable<typeof setup>['receiver'];
let auth: string;
const url = (node: RunningProcess) => node.ready.url as string;
const thirdParty = (node: RunningProcess, path: string) => `${url(node)}/3rdparty/v1${path}`;
const cloudHooks = () => setup!.cloudHooks();
const health = async (node: RunningProcess) => {
  const reply = await fetch(`${url(node)}/health`);
  return { status: reply.status, body: await reply.json() };
};

before(async () => {
  cluster = await startPrivateCluster();
  const db = await createTestDatabase(cluster.adminUrl);
  setup = await startTwoNodesWithDevice(db.url, TOKEN);
  ({ node1, node2, receiver, auth } = setup);
});

after(async () => {
  await setup?.stop();
  await cluster?.destroy();
});

test('after PostgreSQL restarts, both nodes recover on their own and a webhook registered through node 2 still reaches the device on node 1', async () => {
  const pids = [node1.child.pid, node2.child.pid];
  const before = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    url: `${receiver.url}/before`,
    event: 'sms:received',
  });
  assert.equal(before.status, 201);
  await eventually(() => cloudHooks().some((h) => h.id === before.body.id), 'the first webhook on the device', 3000);

  await cluster!.stop();
  for (const node of [node1, node2]) {
    await eventually(async () => (await health(node)).status === 503, 'the node to report the database down', 5000, 50);
    const down = await health(node);
    assert.equal(down.body.checks['db:ping'].status, 'fail');
  }
  const meanwhile = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    url: `${receiver.url}/meanwhile`,
    event: 'sms:received',
  });
  assert.equal(
    meanwhile.status,
    503,
    `a write while the database is down is refused as unavailable, to be retried (${JSON.stringify(meanwhile.body)})`,
  );
  assert.match(meanwhile.body.message, /database is unreachable/);
  const listed = await fetch(thirdParty(node1, '/messages'), { headers: { authorization: auth } });
  assert.equal(listed.status, 503, `a read that needs the database too (${await listed.clone().text()})`);
  assert.equal(listed.headers.get('retry-after'), '5');

  await cluster!.start();
  for (const node of [node1, node2]) {
    const back = await eventually(
      async () => {
        const h = await health(node);
        return h.status === 200 && h.body.checks['events:listen'].status === 'pass' ? h.body : null;
      },
      'the node to be healthy again with its LISTEN connection back',
      20_000,
      100,
    );
    assert.ok(back.checks['events:listen'].observedValue >= 1, 'it reconnected LISTEN');
  }
  assert.deepEqual([node1.child.exitCode, node2.child.exitCode], [null, null], 'neither node exited');
  assert.deepEqual([node1.child.pid, node2.child.pid], pids, 'the same processes');

  // Registered after both nodes are back (their re-pull already happened): only the push can bring it.
  const started = performance.now();
  const after = await api(thirdParty(node2, '/webhooks'), 'POST', auth, {
    url: `${receiver.url}/after`,
    event: 'sms:received',
  });
  assert.equal(after.status, 201, JSON.stringify(after.body));
  await eventually(
    () => cloudHooks().some((h) => h.id === after.body.id),
    'the webhook registered after the restart on the device',
    3000,
    5,
  );
  console.log(
    `# webhook via node 2 -> device on node 1 after the restart: ${(performance.now() - started).toFixed(1)} ms`,
  );

  const count = receiver.requests.length;
  assert.equal(
    (await setup!.device.api.call('POST', '/sim/v1/incoming', { from: '+15550100', text: 'after the restart' })).status,
    202,
  );
  await receiver.waitFor(count + 2);
  const paths = receiver.requests
    .slice(count)
    .map((r) => r.path)
    .sort();
  assert.deepEqual(paths, ['/after', '/before'], 'both webhooks delivered, by the device');

  // Messages cross the nodes again too.
  const sent = await api(thirdParty(node2, '/messages'), 'POST', auth, {
    message: 'after the restart',
    phoneNumbers: ['+15551230001'],
  });
  assert.equal(sent.status, 202);
  await eventually(
    async () => (await api(thirdParty(node1, `/messages/${sent.body.id}`), 'GET', auth)).body.state === 'Delivered',
    'the message Delivered, read through node 1',
    5000,
  );
});
