import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from '../../src/server/server.ts';
import { eventually } from '../helpers/common.ts';
import { basic, call, newDevice, tempDir } from './helpers.ts';

/**
 * The server's SQLite file is checkpointed by a worker thread, as the device's is: left to SQLite,
 * the copy from the WAL into the file (and its fsync) ran inside whichever commit crossed 1,000 WAL
 * pages, and every request waited for it.
 */
test('messages written to the SQLite store reach the database file without a commit crossing the WAL threshold', async () => {
  const dir = tempDir();
  const server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1' });
  try {
    const file = join(dir.path, 'server.db');
    const phone = await newDevice(server, 'checkpoints');
    const auth = basic(phone.login, phone.password);
    // what the start wrote has settled in the file
    let size = statSync(file).size;
    await eventually(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const now = statSync(file).size;
      const settled = now === size;
      size = now;
      return settled;
    }, 'the file to stop growing after the start');
    // a few hundred WAL pages: far from SQLite's own checkpoint at 1,000
    for (let i = 0; i < 40; i++) {
      const sent = await call(`${server.thirdPartyUrl}/messages`, 'POST', {
        auth,
        body: { id: `checkpoint-${i}`, textMessage: { text: 'x'.repeat(1000) }, phoneNumbers: ['+15550001111'] },
      });
      assert.equal(sent.status, 202, sent.text);
    }
    await eventually(() => statSync(file).size > size, 'the messages checkpointed into server.db', 3_000);
  } finally {
    await server.close();
    dir.remove();
  }
});
