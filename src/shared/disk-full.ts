/**
 * Whether a write failed because the disk has no room left: SQLite's SQLITE_FULL, Node's ENOSPC, or
 * PostgreSQL's SQLSTATE 53100 (disk_full). Not the request's fault: the caller may try again later.
 */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100';
}
