import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestDevice, eventually } from '../helpers/device.ts';
import { TestReceiver } from '../helpers/receiver.ts';

// Made by test/vectors/encryption.py with pycryptodome, independently of the code under test.
const { vectors } = JSON.parse(readFileSync(new URL('../vectors/encryption.json', import.meta.url), 'utf8')) as {
  vectors: { name: string; passphrase: string; plaintext: string; encrypted: string }[];
};
const vector = (name: string) => vectors.find((v) => v.name === name)!;
const threeParts = vector('a three-part text');
const number = vector('a phone number');
const refused = vector('a number the virtual carrier refuses');
const PASSPHRASE = threeParts.passphrase;

test('an end-to-end encrypted message is decrypted by the device before it goes; events keep the numbers as given', async () => {
  const device = await startTestDevice();
  const receiver = await new TestReceiver().start();
  try {
    const { api } = device;
    for (const event of ['sms:sent', 'sms:failed']) {
      assert.equal((await api.call('POST', '/webhooks', { url: `${receiver.url}/${event}`, event })).status, 201);
    }
    assert.equal((await api.call('PATCH', '/settings', { encryption: { passphrase: PASSPHRASE } })).status, 200);

    const posted = await api.call('POST', '/message', {
      textMessage: { text: threeParts.encrypted },
      phoneNumbers: [number.encrypted, refused.encrypted],
      isEncrypted: true,
    });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    assert.equal(posted.body.isEncrypted, true);
    const message = await eventually(async () => {
      const reply = (await api.call('GET', `/message/${posted.body.id}`)).body;
      return (
        reply.recipients.every((r: { state: string }) => r.state !== 'Pending' && r.state !== 'Processed') && reply
      );
    }, 'both recipients final');
    // The carrier saw the clear number: the magic one was refused with its reason.
    assert.deepEqual(
      message.recipients.map((r: { phoneNumber: string; state: string; error?: string }) => [
        r.phoneNumber,
        r.state === 'Delivered' ? 'Sent' : r.state,
        r.error,
      ]),
      [
        [number.encrypted, 'Sent', undefined],
        [refused.encrypted, 'Failed', 'RESULT_ERROR_GENERIC_FAILURE'],
      ],
    );
    await receiver.waitFor(2);
    const sent = receiver.envelopes().find((e) => e.event === 'sms:sent')!;
    // The clear text has three parts; its ciphertext would have more.
    assert.equal(sent.payload.partsCount, 3);
    assert.equal(sent.payload.recipient, number.encrypted, 'the number as the client gave it');
    assert.doesNotMatch(JSON.stringify(receiver.envelopes()), new RegExp(number.plaintext.replace('+', '\\+')));
  } finally {
    await device.cleanup();
    await receiver.stop();
  }
});

test('an encrypted message that cannot be decrypted fails with the reason; one bad number fails alone', async () => {
  const device = await startTestDevice();
  try {
    const { api } = device;
    const send = async (body: Record<string, unknown>) => {
      const posted = await api.call('POST', '/message', { isEncrypted: true, ...body });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      return eventually(async () => {
        const reply = (await api.call('GET', `/message/${posted.body.id}`)).body;
        return ['Sent', 'Delivered', 'Failed'].includes(reply.state) && reply;
      }, `message ${posted.body.id} final`);
    };
    const errors = (m: { recipients: { error?: string }[] }) => m.recipients.map((r) => r.error);

    // No passphrase on the device yet.
    const unset = await send({ textMessage: { text: threeParts.encrypted }, phoneNumbers: [number.encrypted] });
    assert.equal(unset.state, 'Failed');
    assert.match(errors(unset)[0]!, /^cannot decrypt the message: encryption.passphrase is not set/);

    await api.call('PATCH', '/settings', { encryption: { passphrase: 'not the passphrase' } });
    const wrong = await send({
      textMessage: { text: threeParts.encrypted },
      phoneNumbers: [number.encrypted, refused.encrypted],
    });
    assert.deepEqual(errors(wrong), [
      'cannot decrypt the message: wrong passphrase or damaged data: the decrypted padding is not valid',
      'cannot decrypt the message: wrong passphrase or damaged data: the decrypted padding is not valid',
    ]);
    assert.equal(wrong.states.Sent, undefined);

    await api.call('PATCH', '/settings', { encryption: { passphrase: PASSPHRASE } });
    const clearNumber = await send({
      textMessage: { text: threeParts.encrypted },
      phoneNumbers: [number.encrypted, '+15550002222'],
    });
    assert.equal(clearNumber.recipients[0].state === 'Failed', false, JSON.stringify(clearNumber));
    assert.equal(clearNumber.recipients[1].state, 'Failed');
    assert.match(clearNumber.recipients[1].error, /^cannot decrypt the phone number: not an encrypted value/);

    const clearText = await send({ textMessage: { text: 'plain words' }, phoneNumbers: [number.encrypted] });
    assert.match(errors(clearText)[0]!, /^cannot decrypt the message: not an encrypted value/);
  } finally {
    await device.cleanup();
  }
});
