import { basic as basicAuth, call } from '../helpers/http.ts';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startSmsgate, type RunningProcess } from '../helpers/process.ts';
import { TestReceiver } from '../helpers/receiver.ts';
import { startTestDevice } from '../helpers/device.ts';

const run = promisify(execFile);

/**
 * The PostgreSQL the tests use: 127.0.0.1:5432 with trust auth, as `scripts/ensure-services.sh`
 * sets it up (SMSGATE_TEST_POSTGRES_URL points elsewhere). Each test file makes its own database.
 */
export const PG_ADMIN_URL = process.env.SMSGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const HOW_TO_START =
  'The PostgreSQL tests need it and never skip. Start it with `bash scripts/ensure-services.sh` ' +
  '(starts the installed cluster, or installs PostgreSQL from Debian, with trust auth on 127.0.0.1:5432), ' +
  'or set SMSGATE_TEST_POSTGRES_URL to a server where that user may CREATE DATABASE.';

export interface TestDatabase {
  /** postgres://…/smsgate_test_<random> */
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function adminClient(adminUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    const e = error as { code?: string; message: string };
    await client.end().catch(() => {});
    throw new Error(`PostgreSQL is not reachable at ${adminUrl} (${e.code ?? e.message}). ${HOW_TO_START}`, {
      cause: error,
    });
  }
  return client;
}

/** A fresh, uniquely named database for one test file; `drop` removes it (closing what is still connected). */
export async function createTestDatabase(adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  const name = `smsgate_test_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient(adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = await adminClient(adminUrl);
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** One query on its own connection (for looking into the database from a test). */
export async function query<T extends pg.QueryResultRow = any>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Where initdb and pg_ctl are: PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
function pgBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0)
    throw new Error(`no PostgreSQL server binaries (initdb, pg_ctl) under ${root}; set PG_BIN. ${HOW_TO_START}`);
  return join(root, versions[0], 'bin');
}

export interface PrivateCluster {
  /** the cluster's `postgres` database, for createTestDatabase */
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stop it if running and delete its files */
  destroy(): Promise<void>;
}

/**
 * A throwaway PostgreSQL cluster on a free port, for tests that stop and start the database
 * (the machine's shared cluster is used by other test files at the same time). As root the
 * binaries run as the `postgres` OS user, which owns the temp dir.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'smsgate-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();
  // fsync off: this cluster is thrown away, and the tests should not wait for the disk.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  let running = false;
  const start = async () => {
    await pgRun('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
    running = true;
  };
  const stop = async () => {
    await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    running = false;
  };
  try {
    await pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not start a private PostgreSQL cluster with ${bin}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      if (running) await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `smsgate server` on a PostgreSQL database, as a real process on a free port: the command the
 * README's "Scaling out" gives. A generous ready timeout (a busy 2-core machine compiling the
 * TypeScript for two nodes at once can take a while); a node that does not get ready is killed,
 * so no child outlives the test.
 */
export function startNode(
  dbUrl: string,
  privateToken: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<RunningProcess> {
  return startSmsgate(['server', '--db', dbUrl, '--port', '0', '--private-token', privateToken], env, timeoutMs);
}

/** Start several nodes at once; if one fails, the others are stopped before the error is thrown. */
export async function startNodes(count: number, dbUrl: string, privateToken: string): Promise<RunningProcess[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, () => startNode(dbUrl, privateToken)));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((node) => stopProcess(node)));
    throw failed.reason;
  }
  return started;
}

/** SIGTERM, then SIGKILL if it has not exited after 5 s; resolves once it is gone. */
export async function stopProcess(node: RunningProcess | undefined): Promise<void> {
  if (!node) return;
  const { child } = node;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await node.exited;
    clearTimeout(timer);
  }
}

export { basicAuth };

/** A JSON call: status and parsed body. */
export async function api(
  url: string,
  method: string,
  auth: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const { status, body: parsed } = await call(url, method, { auth, body });
  return { status, body: parsed };
}

/**
 * Two nodes on one database (what runs behind a load balancer), a real device linked to node 1
 * with a short reconnect backoff, a real receiver, and the device user's Basic auth.
 */
export async function startTwoNodesWithDevice(dbUrl: string, privateToken: string) {
  const receiver = await new TestReceiver().start();
  // Both at once: on a fresh database one migrates, the other waits for the advisory lock.
  const [node1, node2] = await startNodes(2, dbUrl, privateToken);
  const url = (node: RunningProcess) => node.ready.url as string;
  const device = await startTestDevice({
    link: {
      serverUrl: url(node1),
      privateToken,
      name: 'phone on node 1',
      reconnect: { minDelayMs: 200, maxDelayMs: 1000 },
      log: () => {},
    },
  });
  return {
    node1,
    node2,
    device,
    receiver,
    auth: basicAuth(device.link!.registration.login, device.link!.createdPassword!),
    url,
    thirdParty: (node: RunningProcess, path: string) => `${url(node)}/3rdparty/v1${path}`,
    /** the device's Cloud webhooks (what it synced from the server) */
    cloudHooks: () => device.context.webhooks.list('Cloud'),
    async stop() {
      await device.cleanup();
      await Promise.all([stopProcess(node1), stopProcess(node2)]);
      await receiver.stop();
    },
  };
}
