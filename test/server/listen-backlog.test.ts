import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startTestServer } from './helpers.ts';
import { LISTEN_BACKLOG } from '../../src/server/server.ts';

/** The backlog the kernel gives a listening socket: `ss` shows it as Send-Q (Linux only). */
function listenBacklog(port: number): number | undefined {
  try {
    const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
    return Number(line.split(/\s+/)[2]);
  } catch {
    return undefined;
  }
}

test("the server listens with a backlog for a fleet's herd of new connections, not Node's 511", async (t) => {
  let somaxconn: number;
  try {
    somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  } catch {
    return t.skip('no /proc/sys/net/core/somaxconn (not Linux)');
  }
  const server = await startTestServer();
  try {
    const backlog = listenBacklog(Number(new URL(server.url).port));
    if (backlog === undefined) return t.skip('`ss` is not available');
    assert.equal(
      backlog,
      Math.min(LISTEN_BACKLOG, somaxconn),
      `the listening socket's backlog (ss Send-Q) is the server's, capped by net.core.somaxconn (${somaxconn})`,
    );
    assert.ok(
      backlog > 511,
      `more than Node's default where the kernel allows it (somaxconn ${somaxconn}, got ${backlog})`,
    );
  } finally {
    await server.cleanup();
  }
});
