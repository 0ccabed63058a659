import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePushEvent, PULL_HINT_TYPES, PUSH_EVENT_TYPES } from '../../src/protocol/index.ts';
import { RE_PULL_EVENTS } from '../../src/server/push/hub.ts';

test('a push is read by its type, its data checked against the protocol', () => {
  assert.deepEqual(parsePushEvent('MessageEnqueued', { id: 'm1' }), { type: 'MessageEnqueued', data: { id: 'm1' } });
  assert.deepEqual(parsePushEvent('DeliveryRedeliverRequested', { id: 'd1', extra: true }), {
    type: 'DeliveryRedeliverRequested',
    data: { id: 'd1', extra: true },
  });
  assert.equal(parsePushEvent('MessagesExportRequested', {}), undefined, 'a type this side does not know');
  assert.equal(parsePushEvent('toString', {}), undefined, 'not fooled by what every object has');
  assert.equal(parsePushEvent('DeliveryRedeliverRequested', {}), undefined, 'a request without its id');
  assert.equal(parsePushEvent('DeliveryRedeliverRequested', 'd1'), undefined);
});

test('a pull hint is acted on whatever its data: it only says "pull again"', () => {
  assert.deepEqual(parsePushEvent('WebhooksUpdated', 'not json'), { type: 'WebhooksUpdated', data: {} });
  assert.deepEqual(parsePushEvent('MessageEnqueued', { id: 42 }), { type: 'MessageEnqueued', data: {} });
  assert.deepEqual(parsePushEvent('SettingsUpdated', null), { type: 'SettingsUpdated', data: {} });
});

test('after a gap the hub re-sends every pull hint, and only those', () => {
  assert.deepEqual(
    RE_PULL_EVENTS.map((e) => e.type),
    [...PULL_HINT_TYPES],
  );
  assert.ok(PULL_HINT_TYPES.every((t) => PUSH_EVENT_TYPES.includes(t)));
  assert.ok(
    !(PULL_HINT_TYPES as readonly string[]).includes('DeliveryRedeliverRequested'),
    'a request is not replayed',
  );
});
