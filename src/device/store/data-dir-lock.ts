import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One device process per data directory. Claims of deliveries live in the owning process's
 * memory, so a second process on the same files would send every delivery again. The lock is a
 * file holding the owner's pid; one left behind by a process that no longer runs (kill -9, power
 * loss) is taken over.
 */
export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataDirLock {
    const file = join(dataDir, 'device.lock');
    for (let tries = 0; tries < 3; tries++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let owner: number;
      try {
        owner = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
        throw error;
      }
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new Error(
          `the data directory ${dataDir} is in use by another smsgate device (pid ${owner}); stop it first, or give this one its own --data-dir`,
        );
      }
      rmSync(file, { force: true }); // left behind by a process that is gone
    }
    throw new Error(`could not take the lock ${file}; remove it if no smsgate device uses ${dataDir}`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
