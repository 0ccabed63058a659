import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceiverSlots } from '../../src/device/dispatch/receiver-slots.ts';

test('a receiver gets at most `limit` slots; scheme, host and port make the receiver, not the path', () => {
  const slots = new ReceiverSlots(2);
  assert.equal(slots.admit('https://a.example/hook/1'), true);
  assert.equal(slots.admit('https://a.example/hook/2?x=1'), true);
  assert.equal(slots.admit('https://a.example/other'), false, 'a third attempt to the same origin waits');
  assert.equal(slots.admit('https://a.example:8443/hook'), true, 'another port is another receiver');
  assert.equal(slots.admit('http://a.example/hook'), true, 'another scheme is another receiver');
  assert.equal(slots.admit('https://b.example/hook'), true);
  assert.equal(slots.busy('https://a.example/anything'), 2);
});

test('refusals are reported once, until the next refusal', () => {
  const slots = new ReceiverSlots(1);
  assert.equal(slots.takeRefused(), false);
  slots.admit('https://a.example/');
  assert.equal(slots.takeRefused(), false, 'an admitted delivery is not a refusal');
  assert.equal(slots.admit('https://a.example/'), false);
  assert.equal(slots.takeRefused(), true);
  assert.equal(slots.takeRefused(), false, 'taken: the next claim starts clean');
});

test('a released slot can be taken again; a receiver with no attempt left in flight is forgotten', () => {
  const slots = new ReceiverSlots(1);
  assert.equal(slots.admit('https://a.example/x'), true);
  assert.equal(slots.admit('https://a.example/y'), false);
  slots.release('https://a.example/x');
  assert.equal(slots.busy('https://a.example/'), 0);
  assert.equal(slots.admit('https://a.example/y'), true);
  slots.release('https://a.example/y');
  slots.release('https://a.example/y'); // a release too many never goes below zero
  assert.equal(slots.busy('https://a.example/'), 0);
  assert.equal(slots.admit('https://a.example/z'), true);
  assert.equal(slots.admit('https://a.example/z'), false, 'still one slot, not two');
});

test('a URL that does not parse is a receiver of its own', () => {
  const slots = new ReceiverSlots(1);
  assert.equal(slots.admit('not a url'), true);
  assert.equal(slots.admit('not a url'), false);
  assert.equal(slots.admit('also not a url'), true);
  slots.release('not a url');
  assert.equal(slots.busy('not a url'), 0);
});

test('clear gives every slot back', () => {
  const slots = new ReceiverSlots(1);
  slots.admit('https://a.example/');
  slots.admit('https://a.example/');
  slots.clear();
  assert.equal(slots.busy('https://a.example/'), 0);
  assert.equal(slots.takeRefused(), false);
  assert.equal(slots.admit('https://a.example/'), true);
});
