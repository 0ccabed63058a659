import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.ts';
import { isDiskFull } from '../../shared/disk-full.ts';

export interface DiskSpaceLog {
  warn(message: string): void;
  info(message: string): void;
}

/**
 * What the device does when its disk fills up.
 *
 * A file of `reserveBytes` (`space-reserve.bin`) is kept in the data directory while there is
 * room. The first write that fails for lack of space puts the device in "full" mode: the reserve is
 * deleted, which gives SQLite room to record the results of deliveries already queued (so delivery
 * goes on), while new work (events, messages, changes through the API) is refused with 503 rather
 * than eating that room. Every `recheckMs` the free space is looked at again; once the reserve fits
 * back with as much to spare, it is written again and intake resumes by itself.
 * Nothing committed is at risk meanwhile: SQLite rolls back a transaction it could not write.
 */
export class DiskSpaceGuard {
  private full = false;
  private timer: unknown = null;
  private readonly reserveFile: string;

  constructor(
    private readonly options: {
      dataDir: string;
      clock: Clock;
      log: DiskSpaceLog;
      reserveBytes?: number;
      recheckMs?: number;
    },
  ) {
    this.reserveFile = join(options.dataDir, 'space-reserve.bin');
  }

  private get reserveBytes(): number {
    return this.options.reserveBytes ?? 4 * 1024 * 1024;
  }

  /** Write the reserve; on a disk already full, start in full mode. */
  start(): void {
    if (!this.writeReserve()) this.enterFull('there is no room for the space reserve');
  }

  stop(): void {
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Whether new work is refused for lack of space. */
  get isFull(): boolean {
    return this.full;
  }

  /** Tell the guard about a failed write; true when it failed for lack of space (the device is now in full mode). */
  noticeWriteFailure(error: unknown): boolean {
    if (!isDiskFull(error)) return false;
    this.enterFull((error as Error).message);
    return true;
  }

  private enterFull(reason: string): void {
    if (this.full) return;
    this.full = true;
    rmSync(this.reserveFile, { force: true });
    this.options.log.warn(
      `the disk of ${this.options.dataDir} is full (${reason}): new events and changes are refused until there is room; deliveries already queued go on`,
    );
    this.armRecheck();
  }

  private armRecheck(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = null;
      if (this.freeBytes() >= 2 * this.reserveBytes && this.writeReserve()) {
        this.full = false;
        this.options.log.info(`the disk of ${this.options.dataDir} has room again: new events are accepted`);
      } else {
        this.armRecheck();
      }
    }, this.options.recheckMs ?? 2_000);
  }

  private freeBytes(): number {
    const stats = statfsSync(this.options.dataDir);
    return stats.bavail * stats.bsize;
  }

  /** Write the reserve in full (zeros, so the blocks are really taken); false when there is no room. */
  private writeReserve(): boolean {
    let fd: number | undefined;
    try {
      fd = openSync(this.reserveFile, 'w', 0o600);
      const chunk = Buffer.alloc(64 * 1024);
      for (let written = 0; written < this.reserveBytes; written += chunk.length) writeSync(fd, chunk);
      return true;
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      rmSync(this.reserveFile, { force: true });
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
