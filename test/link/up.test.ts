import { basic } from '../helpers/http.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TestReceiver } from '../helpers/receiver.ts';
import { tempDir, LocalApi } from '../helpers/device.ts';

const exec = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `npm start` as the README gives it, with ports and data dir moved out of the way. */
async function npmStart(dataDir: string) {
  const child = spawn('npm', ['start', '--', '--data-dir', dataDir, '--port', '0', '--device-port', '0'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no ready line:\n${lines.join('\n')}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (l) => lines.push(l));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(6)));
      }
    });
  });
  return {
    ready,
    lines,
    async stop() {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

test(
  'npm start (smsgate up): a server and a linked device; the printed curl registers a webhook that delivers',
  { timeout: 90_000 },
  async () => {
    const dir = tempDir();
    const receiver = await new TestReceiver().start();
    let up: Awaited<ReturnType<typeof npmStart>> | undefined;
    try {
      up = await npmStart(dir.path);
      const { ready } = up;
      assert.match(ready.thirdPartyUrl, /^http:\/\/127\.0\.0\.1:\d+\/3rdparty\/v1$/);
      assert.ok(ready.login && ready.password && ready.devicePassword);

      // The printed curl, with the receiver's URL in place of the example one.
      const curlStart = up.lines.findIndex((l) => l.startsWith('curl -X POST'));
      assert.ok(curlStart >= 0, 'a curl command is printed');
      const printed = up.lines
        .slice(curlStart, curlStart + 4)
        .join('\n')
        .replace('http://127.0.0.1:9000/webhook', `${receiver.url}/webhook`);
      const { stdout } = await exec('bash', ['-c', printed + ' -s -w "\\n%{http_code}"']);
      assert.equal(stdout.trim().split('\n').pop(), '201', stdout);

      // Where the dashboards, the API docs and the metrics are: printed, and answering there.
      const serverUrl = new URL(ready.thirdPartyUrl).origin;
      const printedUrls = (label: string) => {
        const line = up!.lines.find((l) => l.startsWith(`${label}:`));
        assert.ok(line, `a "${label}:" line is printed`);
        return [...line.matchAll(/http:\/\/\S+/g)].map((m) => m[0]);
      };
      assert.deepEqual(printedUrls('Dashboard'), [`${serverUrl}/`, `${ready.deviceUrl}/`]);
      assert.deepEqual(printedUrls('API docs'), [`${serverUrl}/docs`, `${ready.deviceUrl}/docs`]);
      assert.deepEqual(printedUrls('Metrics'), [`${serverUrl}/metrics`, `${ready.deviceUrl}/metrics`]);
      const serverAuth = {
        authorization: basic(ready.login, ready.password),
      };
      const deviceAuth = {
        authorization: basic(ready.deviceUsername, ready.devicePassword),
      };
      for (const [url, headers] of [
        [`${serverUrl}/`, serverAuth],
        [`${ready.deviceUrl}/`, deviceAuth],
      ] as const) {
        const page = await fetch(url, { headers });
        assert.equal(page.status, 200, url);
        assert.match(await page.text(), /smsgate dashboard/);
      }
      for (const url of [...printedUrls('API docs'), ...printedUrls('Metrics')])
        assert.equal((await fetch(url)).status, 200, url);

      const device = new LocalApi(ready.deviceUrl, ready.deviceUsername, ready.devicePassword);
      // The Cloud list reaches the device by push; give it a moment, then make an SMS arrive.
      for (let i = 0; i < 100 && receiver.requests.length === 0; i++) {
        if (i % 10 === 0) await device.call('POST', '/sim/v1/incoming', { from: '+15551234567', text: `hello ${i}` });
        await new Promise((r) => setTimeout(r, 50));
      }
      await receiver.waitFor(1, 5000);
      assert.equal(receiver.envelopes()[0].deviceId, ready.deviceId);
      await up.stop();
      up = undefined;

      // A second start on the same data prints the same working credentials.
      up = await npmStart(dir.path);
      assert.equal(up.ready.login, ready.login);
      assert.equal(up.ready.password, ready.password);
      assert.equal(up.ready.devicePassword, ready.devicePassword);
      const list = await fetch(`${up.ready.thirdPartyUrl}/webhooks`, {
        headers: { authorization: basic(ready.login, ready.password) },
      });
      assert.equal(list.status, 200);
      assert.equal((await list.json()).length, 1);
    } finally {
      await up?.stop();
      await receiver.stop();
      dir.remove();
    }
  },
);
