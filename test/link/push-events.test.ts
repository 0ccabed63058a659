import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePushEvent, PULL_HINT_TYPES, PUSH_EVENT_TYPES, withoutContent } from '../../src/protocol/index.ts';
import { RE_PULL_EVENTS } from '../../src/server/push/hub.ts';
import { mobileMessage } from '../helpers/mobile-message.ts';

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

const pushedMessage = mobileMessage('m1');

test('MessageEnqueued may carry the message; one that does not fit the protocol leaves a pull hint', () => {
  assert.deepEqual(parsePushEvent('MessageEnqueued', { id: 'm1', message: pushedMessage }), {
    type: 'MessageEnqueued',
    data: { id: 'm1', message: pushedMessage },
  });
  const { phoneNumbers: _missing, ...broken } = pushedMessage;
  assert.deepEqual(parsePushEvent('MessageEnqueued', { id: 'm1', message: broken }), {
    type: 'MessageEnqueued',
    data: {},
  });
});

test('withoutContent drops a pushed message and keeps its id; other events are untouched', () => {
  const event = { type: 'MessageEnqueued', data: { id: 'm1', message: pushedMessage } } as const;
  assert.deepEqual(withoutContent(event), { type: 'MessageEnqueued', data: { id: 'm1' } });
  assert.equal(event.data.message, pushedMessage, 'the event itself is not changed');
  const cancelled = { type: 'MessageCancelled', data: { messageId: 'm1' } } as const;
  assert.equal(withoutContent(cancelled), cancelled);
});
