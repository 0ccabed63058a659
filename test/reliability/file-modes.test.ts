import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir } from '../helpers/common.ts';
import { runSmsgate, spawnSmsgate } from '../server/helpers.ts';
import { createServer } from '../../src/server/server.ts';

// The data directories hold the private token, device tokens, the device's own token and signing
// keys in clear: readable by their owner only, whatever the umask (the children inherit 022).

const mode = (path: string) => statSync(path).mode & 0o777;
const octal = (value: number) => value.toString(8).padStart(3, '0');

/** Every directory and file under `root` (itself included) with its mode, as `path 700`. */
function modesUnder(root: string): string[] {
  const lines = [`. ${octal(mode(root))}`];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      lines.push(`${relative(root, path)} ${octal(mode(path))}`);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(root);
  return lines.sort();
}

test('`smsgate up` makes its data directories 0700 and every file in them 0600, WAL files included', async () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'nested', 'data');
  const up = await spawnSmsgate(['up', '--data-dir', dataDir, '--port', '0', '--device-port', '0'], {
    env: { SMSGATE_TIME_SCALE: '0.05' },
  });
  try {
    const modes = modesUnder(dataDir);
    for (const expected of [
      'server.db',
      'server.db-wal',
      'server.db-shm',
      'credentials.json',
      'device/device.db',
      'device/device.db-wal',
      'device/device.db-shm',
      'device/device.lock.sqlite',
      'device/device.pid',
    ]) {
      assert.ok(modes.includes(`${expected} 600`), `${expected} 600 in:\n${modes.join('\n')}`);
    }
    assert.ok(modes.includes('. 700') && modes.includes('device 700'), modes.join('\n'));
    const loose = modes.filter((line) => !/ (600|700)$/.test(line));
    assert.deepEqual(loose, [], 'nothing in the data directory is readable by others');
    // a parent the command made on the way is private too
    assert.equal(octal(mode(join(dir.path, 'nested'))), '700');
  } finally {
    await up.stop();
    dir.remove();
  }
});

test('a database and WAL left readable by an older version are narrowed to 0600 at the next start', async () => {
  const dir = tempDir();
  try {
    let server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1' });
    // keep the WAL: a server that closes cleanly checkpoints it away
    const wal = join(dir.path, 'server.db-wal');
    const shm = join(dir.path, 'server.db-shm');
    await server.close();
    writeFileSync(wal, '', { flag: 'a' });
    writeFileSync(shm, '', { flag: 'a' });
    for (const file of ['server.db', 'server.db-wal', 'server.db-shm']) chmodSync(join(dir.path, file), 0o644);
    assert.equal(octal(mode(join(dir.path, 'server.db'))), '644');

    server = await createServer({ dataDir: dir.path, port: 0, host: '127.0.0.1' });
    try {
      for (const file of ['server.db', 'server.db-wal', 'server.db-shm']) {
        assert.equal(octal(mode(join(dir.path, file))), '600', file);
      }
    } finally {
      await server.close();
    }
  } finally {
    dir.remove();
  }
});

test('`smsgate ca init` and `ca issue` keep keys 0600 in 0700 folders, a replaced key included', async () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  try {
    const init = await runSmsgate(['ca', 'init', '--data-dir', dataDir]);
    assert.equal(init.code, 0, init.stderr);
    assert.equal(octal(mode(join(dataDir, 'ca'))), '700');
    assert.equal(octal(mode(join(dataDir, 'ca', 'ca.key.pem'))), '600');

    // a key file someone loosened is narrowed again when --force replaces it
    const issue = await runSmsgate(['ca', 'issue', '--data-dir', dataDir, '127.0.0.1']);
    assert.equal(issue.code, 0, issue.stderr);
    const key = join(dataDir, 'certs', '127.0.0.1.key.pem');
    assert.equal(octal(mode(join(dataDir, 'certs'))), '700');
    assert.equal(octal(mode(key)), '600');
    chmodSync(key, 0o644);
    const again = await runSmsgate(['ca', 'issue', '--data-dir', dataDir, '--force', '127.0.0.1']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(octal(mode(key)), '600');
  } finally {
    dir.remove();
  }
});
