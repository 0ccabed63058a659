import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/device/store/database.ts';
import { MessageStore } from '../../src/device/store/messages.ts';
import { inTransaction } from '../../src/shared/sqlite.ts';

function withStore(run: (store: MessageStore, db: ReturnType<typeof openDatabase>) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-message-store-'));
  const db = openDatabase(join(dir, 'device.db'));
  try {
    run(new MessageStore(db), db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const newMessage = (id: string, createdAt = 1000) => ({
  id,
  source: 'Local' as const,
  text: 'hello',
  dataPort: null,
  simNumber: null,
  withDeliveryReport: true,
  validUntil: null,
  scheduleAt: null,
  priority: 0,
  isEncrypted: false,
  createdAt,
  phoneNumbers: ['+15550100001', '+15550100002'],
});

test('a message read again after each write shows that write: the kept copy never hides a change', () => {
  withStore((store) => {
    assert.equal(store.insert(newMessage('m1')), true);
    assert.equal(store.get('m1')!.state, 'Pending');
    assert.equal(store.get('m1'), store.get('m1'), 'read once, kept');
    store.setSimNumber('m1', 2);
    assert.equal(store.get('m1')!.simNumber, 2);
    store.markProcessed('m1', 2000);
    assert.equal(store.get('m1')!.state, 'Processed');
    assert.deepEqual(
      store.get('m1')!.recipients.map((r) => r.state),
      ['Processed', 'Processed'],
    );
    store.advanceRecipient('m1', 0, 'Sent', null, 3000);
    store.advanceRecipient('m1', 1, 'Sent', null, 3000);
    assert.equal(store.get('m1')!.state, 'Sent');
    assert.equal(store.get('m1')!.states.Sent, 3000);
    store.advanceRecipient('m1', 0, 'Delivered', null, 4000);
    store.advanceRecipient('m1', 1, 'Failed', 'no signal', 4000);
    const final = store.get('m1')!;
    assert.equal(final.state, 'Failed');
    assert.equal(final.recipients[1].error, 'no signal');
  });
});

test('a read inside a transaction that rolls back is not kept', () => {
  withStore((store, db) => {
    store.insert(newMessage('m2'));
    assert.throws(() =>
      inTransaction(db, () => {
        store.advanceRecipient('m2', 0, 'Failed', 'rolled back', 2000);
        assert.equal(store.get('m2')!.recipients[0].state, 'Failed', 'the transaction sees its own write');
        throw new Error('roll back');
      }),
    );
    assert.equal(store.get('m2')!.recipients[0].state, 'Pending');
    assert.equal(store.get('m2')!.state, 'Pending');
  });
});

test('a message is frozen for its readers, and gone once purged', () => {
  withStore((store) => {
    store.insert(newMessage('m3'));
    store.advanceRecipient('m3', 0, 'Failed', 'x', 2000);
    store.advanceRecipient('m3', 1, 'Failed', 'x', 2000);
    const message = store.get('m3')!;
    assert.throws(() => ((message as { state: string }).state = 'Pending'), TypeError);
    assert.throws(() => (message.recipients as unknown[]).push({}), TypeError);
    assert.equal(store.purgeFinished(1000, 25), 0, 'changed after the cutoff: kept');
    assert.equal(store.purgeFinished(2001, 25), 1);
    assert.equal(store.get('m3'), undefined);
  });
});

test('the message the carrier has is finished before any other is taken, the higher priority first', () => {
  withStore((store) => {
    store.insert({ ...newMessage('low-old', 1), priority: 0 });
    store.insert({ ...newMessage('high-new', 3), priority: 100 });
    store.insert({ ...newMessage('high-old', 2), priority: 100 });
    // two were handed to the carrier (a crash between them)
    store.markProcessed('low-old', 10);
    store.markProcessed('high-new', 10);
    assert.equal(store.nextToSend('FIFO', 10)?.id, 'high-new');
    store.advanceRecipient('high-new', 0, 'Sent', null, 20);
    store.advanceRecipient('high-new', 1, 'Sent', null, 20);
    assert.equal(store.nextToSend('FIFO', 20)?.id, 'low-old', 'a Sent message is no longer the carrier’s');
    store.advanceRecipient('low-old', 0, 'Sent', null, 30);
    store.advanceRecipient('low-old', 1, 'Sent', null, 30);
    assert.equal(store.nextToSend('FIFO', 30)?.id, 'high-old', 'then the queue, by priority');
  });
});
