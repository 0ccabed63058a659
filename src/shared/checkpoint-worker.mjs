// Runs SQLite checkpoints on a thread of their own (see startBackgroundCheckpoints in sqlite.ts).
// Plain JavaScript: a worker does not inherit the TypeScript loader the CLI registers.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');
// A checkpoint copies frames from the WAL to the file directly; this connection needs no page cache.
db.pragma('cache_size = -512');

function checkpoint(mode) {
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch {
    // busy or briefly locked: the next round catches up
  }
}

const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint('PASSIVE');
  db.close();
  parentPort.postMessage('stopped');
});
