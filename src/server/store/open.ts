import type { ServerStore, StoreSpec } from './store.ts';

/** Open (and migrate) the store a spec names. `pg` is only loaded for PostgreSQL. */
export async function openStore(spec: StoreSpec): Promise<ServerStore> {
  if (spec.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres-store.ts');
    return openPostgresStore(spec.url);
  }
  const { openSqliteStore } = await import('./sqlite-store.ts');
  return openSqliteStore(spec.file);
}
