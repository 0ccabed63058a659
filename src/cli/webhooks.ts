import type { Command } from './command.ts';
import { requireOpt, stringOpt, UsageError } from './command.ts';
import { callApi, TARGET_OPTIONS, targetFrom } from './api-client.ts';
import { EVENT_NAMES, type Webhook } from '../protocol/index.ts';

export const add: Command = {
  name: 'webhooks add',
  summary: 'Register a webhook (one event per webhook) on a device (Local list) or a server (Cloud list).',
  options: {
    ...TARGET_OPTIONS,
    event: { type: 'string', description: `one of ${EVENT_NAMES.join(', ')}` },
    url: { type: 'string', description: 'where to POST the events (https://, or http:// to loopback)' },
    id: { type: 'string', description: 'webhook id; an existing id is replaced' },
    'device-id': { type: 'string', description: 'limit to one device (server) / must match the device (Local)' },
  },
  async run(args) {
    const target = targetFrom(args);
    const body = {
      event: requireOpt(args, 'event'),
      url: requireOpt(args, 'url'),
      ...(stringOpt(args, 'id') ? { id: stringOpt(args, 'id') } : {}),
      ...(stringOpt(args, 'device-id') ? { deviceId: stringOpt(args, 'device-id') } : {}),
    };
    const hook = await callApi<Webhook>(target, 'POST', '/webhooks', body);
    console.log(JSON.stringify(hook));
  },
};

export const list: Command = {
  name: 'webhooks list',
  summary: 'List the webhooks of a device (Local list) or of your server account (Cloud list).',
  options: { ...TARGET_OPTIONS },
  async run(args) {
    const hooks = await callApi<Webhook[]>(targetFrom(args), 'GET', '/webhooks');
    for (const hook of hooks) console.log(JSON.stringify(hook));
    if (hooks.length === 0) console.error('no webhooks registered');
  },
};

export const rm: Command = {
  name: 'webhooks rm',
  summary: 'Remove a webhook by id.',
  positionals: '<id>',
  options: { ...TARGET_OPTIONS, id: { type: 'string', description: 'the webhook id (or give it as the argument)' } },
  async run(args) {
    const id = stringOpt(args, 'id') ?? args.positionals[0];
    if (!id) throw new UsageError('give the webhook id');
    await callApi(targetFrom(args), 'DELETE', `/webhooks/${encodeURIComponent(id)}`);
    console.log(`removed ${id}`);
  },
};
