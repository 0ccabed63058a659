import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { tempDir, LocalApi, eventually } from '../helpers/device.ts';
import { startSmsgate } from '../helpers/process.ts';

const EVENTS = 5000;
const KILLS = 20;
const PASSWORD = 'crash-safety';
const recorderScript = fileURLToPath(new URL('../helpers/recorder-process.ts', import.meta.url));

function startRecorder(file: string, delayMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', recorderScript, file, String(delayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<string>((resolve) =>
    createInterface({ input: child.stdout! }).on(
      'line',
      (line) => line.startsWith('ready ') && resolve(JSON.parse(line.slice(6)).url),
    ),
  );
  return { child, ready };
}

test(
  `${KILLS} kill -9s at random points during ${EVENTS} events: every delivery id arrives, the file stays sound`,
  { timeout: 600_000 },
  async () => {
    const dir = tempDir();
    const idsFile = join(dir.path, 'received.txt');
    const recorder = startRecorder(idsFile, 1);
    let proc: Awaited<ReturnType<typeof startSmsgate>> | undefined;
    try {
      const receiverUrl = await recorder.ready;
      const start = async () => {
        proc = await startSmsgate(
          ['device', '--data-dir', join(dir.path, 'device'), '--port', '0', '--password', PASSWORD],
          { SMSGATE_TIME_SCALE: '0.01' },
        );
        return new LocalApi(proc.ready.url, 'sms', PASSWORD);
      };
      let api = await start();
      assert.equal(
        (await api.call('POST', '/webhooks', { url: `${receiverUrl}/hook`, event: 'sms:received' })).status,
        201,
      );

      const acknowledged = new Set<string>();
      // Kill points spread at random over the burst.
      const killAt = Array.from({ length: KILLS }, () => Math.floor(Math.random() * EVENTS)).sort((a, b) => a - b);
      let kills = 0;
      while (acknowledged.size < EVENTS) {
        const killThisRound = kills < KILLS;
        const target = killThisRound ? Math.max(killAt[kills], acknowledged.size + 1) : EVENTS;
        let stop = false;
        // Eight clients in a burst; the first to see the target reached kills the device while the
        // others' requests and the device's deliveries are still in flight.
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (!stop && acknowledged.size < target) {
              try {
                const reply = await api.call('POST', '/sim/v1/incoming', {
                  from: '+1555',
                  text: `event ${acknowledged.size}`,
                });
                if (reply.status === 202) for (const id of reply.body.deliveryIds) acknowledged.add(id);
              } catch {
                return; // killed under this request: it never got its 202, so it does not count
              }
            }
            if (!stop && killThisRound) proc!.child.kill('SIGKILL');
            stop = true;
          }),
        );
        if (killThisRound) {
          kills++;
          assert.equal(await proc!.exited, 'SIGKILL');
          api = await start();
        }
      }
      assert.equal(kills, KILLS, `${KILLS} kills happened`);

      const received = () => (existsSync(idsFile) ? readFileSync(idsFile, 'utf8').split('\n').filter(Boolean) : []);
      await eventually(
        () => {
          const got = new Set(received());
          return [...acknowledged].every((id) => got.has(id));
        },
        'every acknowledged delivery at the receiver',
        120_000,
        200,
      );
      const all = received();
      const duplicates = all.length - new Set(all).size;
      const missing = [...acknowledged].filter((id) => !new Set(all).has(id)).length;
      console.log(
        `# crash safety: ${kills} kills, ${acknowledged.size} events acknowledged, ${all.length} requests received, ${duplicates} duplicates, ${missing} missing`,
      );
      assert.equal(missing, 0);

      proc!.child.kill('SIGTERM');
      assert.equal(await proc!.exited, 0);
      proc = undefined;
      const db = new Database(join(dir.path, 'device', 'device.db'), { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const counts = db.prepare(`SELECT state, count(*) AS n FROM deliveries GROUP BY state`).all() as {
          state: string;
          n: number;
        }[];
        assert.deepEqual(
          counts.map((c) => c.state),
          ['succeeded'],
          `all deliveries succeeded: ${JSON.stringify(counts)}`,
        );
      } finally {
        db.close();
      }
    } finally {
      proc?.child.kill('SIGKILL');
      recorder.child.kill('SIGKILL');
      dir.remove();
    }
  },
);
