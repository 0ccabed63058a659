import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { preparePrivateSqliteFile, writePrivateFile } from '../../shared/private-files.ts';

/**
 * One device process per data directory. Claims of deliveries live in the owning process's
 * memory, so a second process on the same files would send every delivery again.
 *
 * The lock is SQLite's exclusive lock on a small database of its own (`device.lock.sqlite`), held
 * for the life of the process. It is an fcntl lock, so the kernel drops it when the process dies,
 * however it dies: nothing is left behind to take over, and a pid that now belongs to another
 * process (after a container restart) cannot block a start. The lock file is never deleted: a
 * process that opened it just before a delete would lock a file nobody else can see.
 * `device.pid` only tells the error message who holds the lock; it decides nothing.
 */
export class DataDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly pidFile: string,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'device.lock.sqlite');
    const pidFile = join(dataDir, 'device.pid');
    // The pid file of earlier versions, whose stale pid could block a start: it means nothing now.
    rmSync(join(dataDir, 'device.lock'), { force: true });
    preparePrivateSqliteFile(file);
    const db = new Database(file, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // An exclusive transaction that never ends: the lock lasts until close() or the process's end.
      db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        const owner = readOwner(pidFile);
        throw new Error(
          `the data directory ${dataDir} is in use by another smsgate device${owner ? ` (pid ${owner})` : ''}; stop it first, or give this one its own --data-dir`,
          { cause: error },
        );
      }
      throw error;
    }
    writePrivateFile(pidFile, `${process.pid}\n`);
    return new DataDirLock(db, pidFile);
  }

  release(): void {
    if (!this.db.open) return;
    rmSync(this.pidFile, { force: true });
    this.db.close();
  }
}

function readOwner(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
