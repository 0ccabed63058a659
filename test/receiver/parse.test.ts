import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import {
  parseWebhook,
  WEBHOOK_EVENTS,
  PAYLOAD_KEYS,
  WebhookParseError,
  type WebhookEvent,
  type Envelope as SdkEnvelope,
  type EventName as SdkEventName,
  type EventPayloads as SdkEventPayloads,
} from '../../src/receiver/index.ts';
import {
  EVENT_NAMES,
  PAYLOAD_KEYS_ALL,
  REQUIRED_PAYLOAD_KEYS,
  type Envelope,
  type EventName,
  type EventPayloads,
} from '../../src/protocol/events.ts';

// The SDK declares the wire types by hand (it cannot depend on TypeBox); the device derives them
// from its schemas. These lines stop the type check when the two differ in any key or type.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const sameEventNames: Same<SdkEventName, EventName> = true;
const samePayloads: Same<SdkEventPayloads, EventPayloads> = true;
const sameEnvelopes: Same<SdkEnvelope, Envelope> = true;
void [sameEventNames, samePayloads, sameEnvelopes];

const health = {
  status: 'pass',
  version: '0.1.0',
  releaseId: 1,
  checks: {
    'messages:failed': { description: 'failed messages', observedValue: 0, observedUnit: 'messages', status: 'pass' },
  },
};
const at = '2024-06-22T15:46:11.000+07:00';
const sms = { messageId: 'm1', sender: '+15550100001', recipient: '+15550100', simNumber: 2, phoneNumber: '+15550100' };
const received = {
  messageId: 'abc123',
  sender: '6505551212',
  recipient: '+15550100001',
  simNumber: 1,
  phoneNumber: '6505551212',
  receivedAt: at,
};
const mmsReceived = {
  ...received,
  transactionId: 'T1',
  subject: 'Photo',
  size: 2048,
  contentClass: 'IMAGE_BASIC',
};
const mmsDownloaded = {
  ...received,
  body: 'see attached',
  subject: 'Photo',
  attachments: [{ partId: 1, contentType: 'image/png', name: 'a.png', size: 3, data: 'AQID' }],
};
const SAMPLES = {
  'sms:received': { ...received, message: 'Android is always a sweet treat!' },
  'sms:data-received': { ...received, data: 'AQID' },
  'sms:sent': { ...sms, partsCount: 1, sentAt: at },
  'sms:delivered': { ...sms, deliveredAt: at },
  'sms:failed': { ...sms, failedAt: at, reason: 'RESULT_ERROR_GENERIC_FAILURE' },
  'sms:cancelled': { ...sms, cancelledAt: at },
  'mms:received': mmsReceived,
  'mms:downloaded': mmsDownloaded,
  'system:ping': { health },
  'app:started': { simCards: [{ slotIndex: 0, simNumber: 1, phoneNumber: '+15550100001' }] },
  'sms:batch:received': { messages: [{ ...received, message: 'hi' }] },
  'sms:batch:data-received': { messages: [{ ...received, data: 'AQID' }] },
  'mms:batch:received': { messages: [mmsReceived] },
  'mms:batch:downloaded': { messages: [mmsDownloaded] },
} as const;
const envelope = (event: string, payload: unknown) => ({
  deviceId: 'ffffffffceb0b1db0000018e937c815b',
  event,
  id: 'Ey6ECgOkVVFjz3CL48B8C',
  payload,
  webhookId: 'w1',
});

function errorOf(body: Parameters<typeof parseWebhook>[0]): WebhookParseError {
  const result = parseWebhook(body);
  assert.equal(result.ok, false, 'expected a parse error');
  return (result as { error: WebhookParseError }).error;
}

test("the receiver's event list and payload keys equal the protocol's (one source of truth)", () => {
  assert.deepEqual([...WEBHOOK_EVENTS], [...EVENT_NAMES]);
  for (const name of EVENT_NAMES) {
    const kinds = PAYLOAD_KEYS[name] as Record<string, string>;
    assert.deepEqual(Object.keys(kinds).sort(), [...PAYLOAD_KEYS_ALL[name]].sort(), name);
    const required = Object.keys(kinds).filter((key) => !kinds[key].endsWith('?'));
    assert.deepEqual(required.sort(), [...REQUIRED_PAYLOAD_KEYS[name]].sort(), name);
  }
  assert.deepEqual(Object.keys(PAYLOAD_KEYS).sort(), [...EVENT_NAMES].sort());
});

test('parses each event from text, bytes and an object', () => {
  for (const [event, payload] of Object.entries(SAMPLES)) {
    const body = envelope(event, payload);
    for (const form of [
      JSON.stringify(body),
      Buffer.from(JSON.stringify(body)),
      new TextEncoder().encode(JSON.stringify(body)),
      body,
    ]) {
      const result = parseWebhook(form);
      assert.ok(result.ok, `${event}: ${!result.ok && result.error.message}`);
      assert.equal(result.event.event, event);
      assert.deepEqual(result.event.payload, payload);
      assert.equal(result.event.id, 'Ey6ECgOkVVFjz3CL48B8C');
    }
  }
});

test('the result narrows by event (compile-time types, checked at run time here)', () => {
  const result = parseWebhook(JSON.stringify(envelope('sms:failed', SAMPLES['sms:failed'])));
  assert.ok(result.ok);
  const describe = (e: WebhookEvent): string => {
    switch (e.event) {
      case 'sms:received':
        return `from ${e.payload.sender}: ${e.payload.message}`;
      case 'sms:sent':
        return `sent at ${e.payload.sentAt} in ${e.payload.partsCount} part(s)`;
      case 'sms:delivered':
        return `delivered at ${e.payload.deliveredAt}`;
      case 'sms:failed':
        return `failed: ${e.payload.reason}`;
      case 'sms:cancelled':
        return `cancelled at ${e.payload.cancelledAt}`;
      case 'system:ping':
        return `health ${e.payload.health.status}`;
      case 'app:started':
        return `${e.payload.simCards.length} SIM(s)`;
      case 'mms:downloaded':
        return `${e.payload.attachments.length} part(s)`;
      default:
        return e.event;
    }
  };
  assert.equal(describe(result.event), 'failed: RESULT_ERROR_GENERIC_FAILURE');
});

test('extra keys are allowed, in the envelope and the payload', () => {
  const result = parseWebhook(
    envelope('sms:sent', { ...SAMPLES['sms:sent'], recipient: '+15550100', extra: { a: 1 } }),
  );
  assert.ok(result.ok);
  assert.equal((result.event.payload as unknown as Record<string, unknown>).recipient, '+15550100');
});

const PARTY_OF: Partial<Record<EventName, string>> = {
  'sms:received': 'sender',
  'sms:data-received': 'sender',
  'mms:received': 'sender',
  'mms:downloaded': 'sender',
  'sms:sent': 'recipient',
  'sms:delivered': 'recipient',
  'sms:failed': 'recipient',
  'sms:cancelled': 'recipient',
};

test('every missing required payload key is an error that names it; optional ones may be absent or null', () => {
  for (const [event, payload] of Object.entries(SAMPLES)) {
    for (const key of Object.keys(payload)) {
      if (!REQUIRED_PAYLOAD_KEYS[event as EventName].includes(key)) {
        const { [key]: _left, ...without } = payload as Record<string, unknown>;
        void _left;
        assert.ok(parseWebhook(envelope(event, without)).ok, `${event} without ${key}`);
        assert.ok(parseWebhook(envelope(event, { ...payload, [key]: null })).ok, `${event} with ${key}: null`);
        continue;
      }
      const partial: Record<string, unknown> = { ...payload };
      delete partial[key];
      if (PARTY_OF[event as EventName] === key) {
        // An older app's payload: the other party only in phoneNumber, which the parse copies over.
        const parsed = parseWebhook(envelope(event, partial));
        assert.ok(parsed.ok, `${event} without ${key}`);
        assert.equal((parsed.event.payload as Record<string, unknown>)[key], partial.phoneNumber);
        delete partial.phoneNumber;
      }
      const error = errorOf(envelope(event, partial));
      assert.ok(error instanceof WebhookParseError);
      assert.equal(error.code, 'missing-key');
      assert.equal(error.key, `payload.${key}`);
      assert.match(error.message, new RegExp(`"${key}"`));
    }
  }
});

test('missing envelope keys are errors that name them', () => {
  for (const key of ['deviceId', 'event', 'id', 'payload', 'webhookId']) {
    const body: Record<string, unknown> = envelope('sms:sent', SAMPLES['sms:sent']);
    delete body[key];
    const error = errorOf(body);
    assert.equal(error.code, 'missing-key', key);
    assert.equal(error.key, key);
    assert.match(error.message, new RegExp(key));
  }
});

test('wrong types are errors that name the key', () => {
  const cases: [string, unknown, string][] = [
    ['sms:received', { ...SAMPLES['sms:received'], simNumber: '1' }, 'payload.simNumber'],
    ['sms:received', { ...SAMPLES['sms:received'], simNumber: 0 }, 'payload.simNumber'],
    ['sms:received', { ...SAMPLES['sms:received'], simNumber: 1.5 }, 'payload.simNumber'],
    ['sms:received', { ...SAMPLES['sms:received'], message: 42 }, 'payload.message'],
    ['sms:received', { ...SAMPLES['sms:received'], recipient: 42 }, 'payload.recipient'],
    ['sms:sent', { ...SAMPLES['sms:sent'], partsCount: '1' }, 'payload.partsCount'],
    ['mms:downloaded', { ...SAMPLES['mms:downloaded'], attachments: {} }, 'payload.attachments'],
    ['app:started', { simCards: null }, 'payload.simCards'],
    ['sms:batch:received', { messages: 'x' }, 'payload.messages'],
    ['sms:failed', { ...SAMPLES['sms:failed'], reason: null }, 'payload.reason'],
    ['system:ping', { health: 'ok' }, 'payload.health'],
    ['system:ping', { health: { status: 'pass' } }, 'payload.health'],
    ['sms:sent', [], 'payload'],
    ['sms:sent', null, 'payload'],
  ];
  for (const [event, payload, key] of cases) {
    const error = errorOf(envelope(event, payload));
    assert.equal(error.code, 'wrong-type', `${key}: ${error.message}`);
    assert.equal(error.key, key);
    assert.ok(error.message.includes(key), error.message);
  }
  const error = errorOf({ ...envelope('sms:sent', SAMPLES['sms:sent']), id: 7 });
  assert.deepEqual([error.code, error.key], ['wrong-type', 'id']);
});

test('an unknown event is a typed error listing the known ones', () => {
  const error = errorOf(envelope('mms:sent', {}));
  assert.equal(error.code, 'unknown-event');
  assert.equal(error.key, 'event');
  assert.match(error.message, /"mms:sent"/);
  assert.match(error.message, /sms:received, sms:data-received, sms:sent, .*, mms:batch:downloaded/);
});

test('bodies that are not JSON objects are typed errors, never throws', () => {
  assert.equal(errorOf('{"event":').code, 'invalid-json');
  assert.equal(errorOf('').code, 'invalid-json');
  assert.equal(errorOf(Buffer.from([0xff, 0xfe])).code, 'invalid-json');
  for (const body of ['[]', '"text"', '42', 'null']) assert.equal(errorOf(body).code, 'not-an-object', body);
  // A key inherited from Object.prototype is not a key of the body.
  assert.equal(
    errorOf(Object.create({ deviceId: 'd', event: 'sms:sent', id: 'i', webhookId: 'w', payload: SAMPLES['sms:sent'] }))
      .code,
    'missing-key',
  );
});

test('the receiver SDK loads nothing but node builtins and its own files at run time', () => {
  const dir = new URL('../../packages/receiver/src/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    // Every `import … from '…'` and `export … from '…'` that is not type-only.
    for (const match of source.matchAll(/^\s*(import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
      const target = match[2];
      assert.ok(target.startsWith('node:') || target.startsWith('./'), `${file} imports ${target} at run time`);
    }
    assert.doesNotMatch(source, /^\s*import\s+'[^']+'/m, `${file} has a side-effect import`);
  }
});

test('the web entry point loads no node builtins, directly or through its own files', () => {
  const dir = new URL('../../packages/receiver/src/', import.meta.url);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(new URL(file, dir), 'utf8');
    for (const match of source.matchAll(/^\s*(import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
      const target = match[2];
      assert.ok(target.startsWith('./'), `${file}, loaded by web.ts, imports ${target}`);
      visit(target.slice(2));
    }
  };
  visit('web.ts');
  assert.ok(seen.has('web-signature.ts') && seen.has('events.ts'), [...seen].join(', '));
});
