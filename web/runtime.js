// The one place that knows whether this dashboard is a device's or a server's: the pages ask this
// adapter (which API, which words, which lists) instead of testing the mode themselves.
import { DELIVERY_STATES, STORED_DELIVERY_STATES } from './vocabulary.js';

const MODE = document.querySelector('meta[name="smsgate-mode"]').content; // 'device' | 'server'

function client(base) {
  return async function api(method, path, body) {
    const response = await fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new Error(data?.message ?? `${method} ${path}: HTTP ${response.status}`);
    return data;
  };
}

/** A list answered with X-Total-Count: its items and the number of matches. */
function counted(base) {
  return async function list(path) {
    const response = await fetch(base + path);
    const data = await response.json();
    if (!response.ok) throw new Error(data?.message ?? `GET ${path}: HTTP ${response.status}`);
    return { items: data, total: Number(response.headers.get('x-total-count') ?? data.length) };
  };
}

const deviceApi = client('');
const serverApi = client('/3rdparty/v1');

/** The device's own card, in the shape the Devices page draws for every device. */
function deviceCard({ device, health, queue }) {
  return {
    id: device.id,
    title: 'This device',
    online: device.online,
    health,
    facts: [
      'last seen: now (this page is served by it)',
      device.cloudId ? `linked to a server as ${device.cloudId}` : 'Local mode (not linked)',
      `network: ${device.online ? 'online' : 'offline'}`,
      `time zone: ${device.timeZone}`,
    ],
    queueDepth: queue.pending + queue.sending,
    queueDetail: `pending ${queue.pending} · sending ${queue.sending} · succeeded ${queue.succeeded} · failed ${queue.failed} · cancelled ${queue.cancelled}`,
    checksOpen: true,
  };
}

/** Server mode: every device's Local webhook list, as each last reported it (read-only here). */
async function localLists(devices) {
  const byDevice = new Map((await serverApi('GET', '/devices/webhooks')).map((list) => [list.deviceId, list]));
  return devices.map((device) => ({
    device,
    ...(byDevice.get(device.id) ?? { deviceId: device.id, reportedAt: null, webhooks: [] }),
  }));
}

const device = {
  mode: 'device',
  api: deviceApi,
  streamUrl: '/events/stream',
  deliveryStates: DELIVERY_STATES,
  /** one device: no device names or filters */
  manyDevices: false,
  webhookSource: 'Local',
  messagesPath: '/message',
  listMessages: counted(''),
  cancelMessage: (id) => deviceApi('DELETE', `/message/${encodeURIComponent(id)}`),
  sendThrough: 'through the virtual carrier',
  liveTiming: 'as they happen',
  liveEmptyHint: 'inject an SMS on the Send test page.',
  canInjectIncoming: true,
  devicesNote: null,
  /** the device keeps what it received: GET /inbox lists it */
  inboxListed: true,
  listInbox: counted(''),
  inboxNote: null,
  /** what a refresh did, in words */
  refreshOutcome: (r) =>
    `Found ${r.messages} received message${r.messages === 1 ? '' : 's'} in the window; ${r.events} event${r.events === 1 ? '' : 's'} recorded (${r.webhookDelivery}).`,
  settingsNote: 'These settings act on this device at once.',
  async listDevices() {
    return [deviceCard(await deviceApi('GET', '/dashboard/overview'))];
  },
  /** The list this dashboard edits, and the lists it only shows. */
  async webhookLists() {
    const { webhooks } = await deviceApi('GET', '/dashboard/overview');
    return {
      editable: { title: "Local (this device's API)", hooks: webhooks.local, testid: 'local-webhooks' },
      shown: [
        {
          key: 'cloud',
          title: 'Cloud (synced from the server; edit them there)',
          hooks: webhooks.cloud,
          testid: 'cloud-webhooks',
        },
      ],
      devices: [],
    };
  },
  async webhookChoices() {
    const { webhooks } = await deviceApi('GET', '/dashboard/overview');
    return [...webhooks.local, ...webhooks.cloud];
  },
  async devices() {
    return [];
  },
  /** Queue a test event to a Local webhook; `attempt()` reads its delivery with the attempts so far. */
  async testWebhook(hook) {
    const { deliveryId } = await deviceApi('POST', `/webhooks/${encodeURIComponent(hook.id)}/test`);
    return {
      note: `Test event queued as delivery ${deliveryId}.`,
      attempt: () => deviceApi('GET', `/deliveries/${encodeURIComponent(deliveryId)}`),
    };
  },
  redeliverNote: () => null,
};

const server = {
  mode: 'server',
  api: serverApi,
  streamUrl: '/3rdparty/v1/events/stream',
  // the server's copy has no "sending": devices report an attempt once it has finished
  deliveryStates: STORED_DELIVERY_STATES,
  manyDevices: true,
  webhookSource: 'Cloud',
  messagesPath: '/messages',
  listMessages: counted('/3rdparty/v1'),
  cancelMessage: (id) => serverApi('DELETE', `/messages/${encodeURIComponent(id)}`),
  sendThrough: 'through your most recently seen device',
  liveTiming: 'as your devices report them (within about a second)',
  liveEmptyHint: 'send an SMS on the Send test page, or make one arrive on a device.',
  canInjectIncoming: false,
  inboxListed: false,
  inboxNote:
    'Received messages stay on the phones that received them: a refresh asks your devices (or one) to announce again what they received in the window, and each does it from its own inbox through its webhooks.',
  refreshOutcome: (r) =>
    `Asked ${r.deviceIds.length} device${r.deviceIds.length === 1 ? '' : 's'} (${r.deviceIds.join(', ')}) to announce their ${r.messageTypes.join(', ')} messages again (${r.webhookDelivery}).`,
  settingsNote: 'These settings are for all of your devices: every change is pushed to them.',
  devicesNote:
    'Each linked device reports its health every 30 s and whenever it reconnects; queue depth is its webhook deliveries waiting or in flight. The devices deliver the webhooks and report what they did: see Deliveries and Live events.',
  async listDevices() {
    const devices = await serverApi('GET', '/devices');
    return devices.map((d) => {
      const online = Boolean(d.lastSeen) && Date.now() - new Date(d.lastSeen).getTime() < 60_000;
      const checks = d.health?.checks ?? {};
      return {
        id: d.id,
        title: d.name ?? '(unnamed)',
        online,
        onlineBadge: true,
        health: d.health,
        lastSeen: d.lastSeen,
        createdAt: d.createdAt,
        queueDepth: d.health ? (checks['webhooks:queue']?.observedValue ?? 'not reported') : undefined,
        failedDeliveries: checks['webhooks:failed']?.observedValue,
        checksOpen: false,
      };
    });
  },
  async webhookLists() {
    const [cloud, devices] = await Promise.all([serverApi('GET', '/webhooks'), serverApi('GET', '/devices')]);
    const local = await localLists(devices);
    return {
      note: 'This server holds the Cloud list: every device of yours delivers it (or the one it is bound to). Local webhooks are managed on each device (its Local API or its own dashboard); they are shown here as the device last reported them, read-only.',
      editable: { title: 'Cloud (this server)', hooks: cloud, testid: 'cloud-webhooks' },
      shown: local.map(({ device, webhooks, reportedAt }) => ({
        key: device.id,
        title: `Local on ${device.name ?? device.id}`,
        reportedAt,
        hooks: webhooks,
        deviceLabel: device.name ?? device.id,
        testid: 'local-webhooks',
      })),
      devices,
    };
  },
  async webhookChoices() {
    const devices = await serverApi('GET', '/devices');
    const [cloud, local] = await Promise.all([serverApi('GET', '/webhooks'), localLists(devices)]);
    return [...cloud.map((w) => ({ ...w, source: 'Cloud' })), ...local.flatMap((l) => l.webhooks)];
  },
  async devices() {
    return serverApi('GET', '/devices');
  },
  /**
   * Ask a device to send a test event to a Cloud webhook; `attempt()` finds its delivery once the
   * device reports it: the newest system:ping delivery of that webhook that was not there before.
   */
  async testWebhook(hook) {
    const newest = async () => {
      const query = new URLSearchParams({ webhookId: hook.id, event: 'system:ping', limit: '1' });
      return (await serverApi('GET', `/deliveries?${query}`)).items[0];
    };
    const before = await newest();
    const asked = await serverApi('POST', `/webhooks/${encodeURIComponent(hook.id)}/test`);
    return {
      note: `Asked device ${asked.deviceId} to send it; its attempt shows here once the device reports it.`,
      attempt: async () => {
        const latest = await newest();
        if (!latest || latest.id === before?.id) return undefined;
        return serverApi('GET', `/deliveries/${encodeURIComponent(latest.id)}`);
      },
    };
  },
  /** the server asks the device, which sends it and reports the new attempt */
  redeliverNote: (deviceLabel) =>
    `Asked ${deviceLabel} to send it again; the new attempt shows here once the device reports it.`,
};

export const runtime = MODE === 'server' ? server : device;
export const api = runtime.api;
