import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/**
 * Versioned migrations of the PostgreSQL server database; index + 1 is the schema version
 * (one row per applied version in `smsgate_schema`). Append only: a released migration is
 * never edited. The same tables as SQLite (src/server/store/sqlite.ts): times are Unix
 * milliseconds in BIGINT, flags are BOOLEAN, and the key columns use the "C" collation so that
 * ORDER BY on ids sorts byte by byte, as SQLite does.
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `
  CREATE TABLE server_meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    login         TEXT COLLATE "C" NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
  );

  CREATE TABLE devices (
    id         TEXT COLLATE "C" PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    name       TEXT NOT NULL,
    push_token TEXT,
    -- SHA-256 of the bearer token: the token itself is never stored
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
  );
  CREATE INDEX devices_by_user ON devices (user_id, last_seen DESC);

  CREATE TABLE webhooks (
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    id         TEXT COLLATE "C" NOT NULL,
    url        TEXT NOT NULL,
    event      TEXT NOT NULL,
    device_id  TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, id)
  );

  CREATE TABLE messages (
    user_id              TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    id                   TEXT COLLATE "C" NOT NULL,
    device_id            TEXT COLLATE "C" NOT NULL,
    text                 TEXT NOT NULL,
    sim_number           INTEGER,
    with_delivery_report BOOLEAN NOT NULL,
    is_encrypted         BOOLEAN NOT NULL,
    priority             INTEGER NOT NULL,
    valid_until          BIGINT,
    state                TEXT NOT NULL,
    -- STATE_RANK of state: the guard that keeps reports from moving a message backwards
    state_rank           SMALLINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    PRIMARY KEY (user_id, id)
  );
  CREATE INDEX messages_pending ON messages (device_id, created_at) WHERE state = 'Pending';
  CREATE INDEX messages_by_user ON messages (user_id, created_at);
  CREATE INDEX messages_by_device ON messages (device_id, id);

  CREATE TABLE message_recipients (
    user_id      TEXT COLLATE "C" NOT NULL,
    message_id   TEXT COLLATE "C" NOT NULL,
    position     INTEGER NOT NULL,
    phone_number TEXT NOT NULL,
    state        TEXT NOT NULL,
    state_rank   SMALLINT NOT NULL,
    error        TEXT,
    PRIMARY KEY (user_id, message_id, position),
    FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
  );

  -- When each state was first reached; the earliest time reported for a state is kept.
  CREATE TABLE message_states (
    user_id    TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id, state),
    FOREIGN KEY (user_id, message_id) REFERENCES messages (user_id, id) ON DELETE CASCADE
  );

  -- Only the keys a user set through the server (JSON text, nulls kept); defaults fill the rest.
  CREATE TABLE user_settings (
    user_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES users (id),
    document   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  `,
  // 2: the health document each device reports (PUT /mobile/v1/device/health), shown with the device
  `
  ALTER TABLE devices ADD COLUMN health TEXT;
  ALTER TABLE devices ADD COLUMN health_reported_at BIGINT;
  `,
  // 3: what devices report of their webhook activity (POST /mobile/v1/device/activity): their
  // deliveries and attempts (a copy: the device delivers), and each device's Local webhook list
  `
  ALTER TABLE devices ADD COLUMN local_webhooks TEXT;
  ALTER TABLE devices ADD COLUMN local_webhooks_reported_at BIGINT;

  CREATE TABLE device_deliveries (
    -- the order the server first heard of them: the list's keyset cursor
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       TEXT COLLATE "C" NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    event_id        TEXT COLLATE "C" NOT NULL,
    event           TEXT NOT NULL,
    webhook_source  TEXT NOT NULL,
    webhook_id      TEXT COLLATE "C" NOT NULL,
    url             TEXT NOT NULL,
    state           TEXT NOT NULL,
    -- (attempts, updated_at) is the version on the device: a report never replaces a newer one
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    reported_at     BIGINT NOT NULL,
    UNIQUE (device_id, id)
  );
  CREATE INDEX device_deliveries_by_user ON device_deliveries (user_id, seq);
  CREATE INDEX device_deliveries_by_user_id ON device_deliveries (user_id, id);
  CREATE INDEX device_deliveries_by_device ON device_deliveries (device_id, seq);

  CREATE TABLE device_attempts (
    device_id        TEXT COLLATE "C" NOT NULL,
    delivery_id      TEXT COLLATE "C" NOT NULL,
    number           INTEGER NOT NULL,
    started_at       BIGINT NOT NULL,
    duration_ms      INTEGER NOT NULL,
    status           INTEGER,
    error            TEXT,
    response_preview TEXT,
    outcome          TEXT NOT NULL,
    PRIMARY KEY (device_id, delivery_id, number),
    FOREIGN KEY (device_id, delivery_id) REFERENCES device_deliveries (device_id, id) ON DELETE CASCADE
  );
  `,
];

/**
 * The key of the advisory lock migrations run under ('smsgate' in ASCII), so that two nodes
 * starting at once against a fresh database do not both create the tables.
 */
export const MIGRATION_LOCK_KEY = 0x736d7367617465n;

export interface PostgresPoolOptions {
  /** pool size per process (default 10) */
  max?: number;
  /** shown in pg_stat_activity */
  applicationName?: string;
  /** where errors of idle connections are reported (default: stderr) */
  log?: (line: string) => void;
}

/**
 * BIGINT (oid 20) comes back from pg as a string, to be safe beyond 2^53; our BIGINTs are Unix
 * milliseconds and counts, so numbers. Set per pool, not globally on the pg module.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The URL without its password, for logs and the ready line. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

/** Explain a connection error in terms a user can act on. */
export function explainConnectError(url: string, error: unknown): Error {
  const e = error as { code?: string; message?: string };
  const where = redactUrl(url);
  if (e.code === '3D000') {
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    return new Error(
      `PostgreSQL at ${where}: ${e.message}; create it first, e.g. \`createdb -h <host> -U <user> ${name}\``,
    );
  }
  if (
    e.code === 'ECONNREFUSED' ||
    e.code === 'ENOTFOUND' ||
    e.code === 'ETIMEDOUT' ||
    e.code === 'EHOSTUNREACH' ||
    /timeout/i.test(e.message ?? '')
  ) {
    return new Error(
      `cannot reach PostgreSQL at ${where} (${e.code ?? e.message}); is it running and listening there?`,
    );
  }
  return new Error(`PostgreSQL at ${where}: ${e.message ?? String(error)}`);
}

/** A pool whose broken idle connections are dropped and replaced on next use (e.g. after a PostgreSQL restart). */
export function createPool(url: string, options: PostgresPoolOptions = {}): PgPool {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'smsgate',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // Without a listener an idle connection's error (the server restarting) would crash the process.
  pool.on('error', (error) =>
    log(`postgres: an idle connection failed (${error.message}); the pool opens a new one when needed`),
  );
  return pool;
}

/**
 * Run `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when
 * it throws. A connection whose ROLLBACK fails is broken and is not returned to the pool.
 */
export async function inTransaction<T>(
  pool: PgPool,
  fn: (client: PgClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Bring the schema up to date. The whole run is one transaction holding an advisory lock, so
 * when several nodes start at once the first migrates and the others wait, then find nothing
 * to do. DDL is transactional in PostgreSQL: a failed migration leaves no half-made table.
 */
export async function migratePostgres(pool: PgPool): Promise<{ from: number; to: number }> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS smsgate_schema (
         version    INTEGER PRIMARY KEY,
         applied_at BIGINT NOT NULL
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM smsgate_schema',
    );
    const current = rows[0].version ?? 0;
    if (current > POSTGRES_MIGRATIONS.length) {
      throw new Error(
        `the server database is at schema version ${current}, newer than this smsgate understands (${POSTGRES_MIGRATIONS.length}); upgrade smsgate`,
      );
    }
    for (let version = current; version < POSTGRES_MIGRATIONS.length; version++) {
      await client.query(POSTGRES_MIGRATIONS[version]);
      await client.query('INSERT INTO smsgate_schema (version, applied_at) VALUES ($1, $2)', [version + 1, Date.now()]);
    }
    return { from: current, to: POSTGRES_MIGRATIONS.length };
  });
}
