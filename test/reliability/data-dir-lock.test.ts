import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/device.ts';
import { startSmsgate, SMSGATE_BIN } from '../helpers/process.ts';

const exec = promisify(execFile);

test('a pid left in the data directory by a dead process, or one that now belongs to another process, blocks no start', async () => {
  const dir = tempDir();
  try {
    // After a container restart the old pid is often 1, which is alive (it is init): the old pid-file
    // lock refused to start here, "in use by … pid 1".
    writeFileSync(join(dir.path, 'device.lock'), '1');
    writeFileSync(join(dir.path, 'device.pid'), '1\n');
    const device = await startSmsgate(['device', '--data-dir', dir.path, '--port', '0']);
    try {
      assert.equal((await fetch(`${device.ready.url}/health`)).status, 200);
      assert.equal(existsSync(join(dir.path, 'device.lock')), false, 'the old pid file is removed');
    } finally {
      device.child.kill('SIGTERM');
      await device.exited;
    }
  } finally {
    dir.remove();
  }
});

test('kill -9 leaves no lock behind: the next device starts at once on the same directory', async () => {
  const dir = tempDir();
  try {
    const first = await startSmsgate(['device', '--data-dir', dir.path, '--port', '0']);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await startSmsgate(['device', '--data-dir', dir.path, '--port', '0']);
    try {
      assert.equal((await fetch(`${second.ready.url}/health`)).status, 200);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  } finally {
    dir.remove();
  }
});

test('a second device on a directory in use is refused with the holder’s pid, and the first keeps serving', async () => {
  const dir = tempDir();
  try {
    const first = await startSmsgate(['device', '--data-dir', dir.path, '--port', '0']);
    try {
      await assert.rejects(
        exec(process.execPath, [SMSGATE_BIN, 'device', '--data-dir', dir.path, '--port', '0']),
        (error: { stderr: string; code: number }) => {
          assert.notEqual(error.code, 0);
          assert.match(error.stderr, new RegExp(`in use by another smsgate device \\(pid ${first.child.pid}\\)`));
          return true;
        },
      );
      assert.equal((await fetch(`${first.ready.url}/health`)).status, 200);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
    // Stopped cleanly: free again.
    const again = await startSmsgate(['device', '--data-dir', dir.path, '--port', '0']);
    again.child.kill('SIGTERM');
    await again.exited;
  } finally {
    dir.remove();
  }
});
