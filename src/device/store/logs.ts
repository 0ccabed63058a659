import type { Clock } from '../../shared/clock.ts';
import type { Db } from './database.ts';

/** As the app names them. */
export const LOG_PRIORITIES = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogPriority = (typeof LOG_PRIORITIES)[number];

export interface LogEntry {
  id: number;
  createdAt: number;
  priority: LogPriority;
  module: string;
  message: string;
  /** what the entry is about (ids, states, an address); null when nothing */
  context: Record<string, unknown> | null;
}

/** Entries a `GET /logs` answers at most (the oldest of the window first); a narrower window shows the rest. */
export const LOGS_LISTED = 10_000;
/** Entries kept at most, whatever their age: the newest. */
export const LOGS_KEPT = 100_000;
/** Entries written together: the buffer is flushed this often (device time), in one transaction. */
const FLUSH_EVERY_MS = 200;

interface LogRow {
  id: number;
  created_at: number;
  priority: LogPriority;
  module: string;
  message: string;
  context: string | null;
}

/**
 * The device's own log (`GET /logs`): what it did, by module (`system`, `messages`, `webhooks`,
 * `gateway`, `settings`), with a priority and a small context. Entries are buffered and written
 * together every 200 ms, off the paths that make them; the retention purge bounds the table by age
 * (`logs.lifetime_days`) and by count (`LOGS_KEPT`). An entry still in the buffer when the process
 * is killed is lost: the log tells what happened, nothing depends on it.
 */
export class DeviceLog {
  private readonly statements;
  private buffer: Omit<LogRow, 'id'>[] = [];
  private timer: unknown = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void,
  ) {
    this.statements = {
      insert: db.prepare<Omit<LogRow, 'id'>>(
        `INSERT INTO log_entries (created_at, priority, module, message, context)
         VALUES (:created_at, :priority, :module, :message, :context)`,
      ),
      select: db.prepare<{ from: number; to: number; limit: number }, LogRow>(
        `SELECT id, created_at, priority, module, message, context FROM log_entries
          WHERE created_at BETWEEN :from AND :to ORDER BY created_at, id LIMIT :limit`,
      ),
      deleteOlder: db.prepare<{ cutoff: number }>(`DELETE FROM log_entries WHERE created_at < :cutoff`),
      deleteBeyond: db.prepare<{ keep: number }>(
        `DELETE FROM log_entries WHERE id <= (SELECT max(id) FROM log_entries) - :keep`,
      ),
    };
  }

  write(priority: LogPriority, module: string, message: string, context?: Record<string, unknown>): void {
    if (this.closed) return;
    this.buffer.push({
      created_at: this.clock.now(),
      priority,
      module,
      message,
      context: context === undefined ? null : JSON.stringify(context),
    });
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, FLUSH_EVERY_MS);
  }

  /** Write what is buffered now. */
  flush(): void {
    if (this.buffer.length === 0 || !this.db.open) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.db.transaction(() => {
        for (const row of rows) this.statements.insert.run(row);
      })();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Entries made between `from` and `to` (epoch ms, both included), oldest first, at most `LOGS_LISTED`. */
  select(from: number, to: number): LogEntry[] {
    this.flush();
    return this.statements.select.all({ from, to, limit: LOGS_LISTED }).map((row) => ({
      id: row.id,
      createdAt: row.created_at,
      priority: row.priority,
      module: row.module,
      message: row.message,
      context: row.context === null ? null : (JSON.parse(row.context) as Record<string, unknown>),
    }));
  }

  /** Drop entries made before `cutoff` and all but the newest `LOGS_KEPT`; how many went. */
  purge(cutoff: number): number {
    this.flush();
    return (
      this.statements.deleteOlder.run({ cutoff }).changes +
      this.statements.deleteBeyond.run({ keep: LOGS_KEPT }).changes
    );
  }

  /** Write what is buffered and take no more. */
  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    this.closed = true;
  }
}
