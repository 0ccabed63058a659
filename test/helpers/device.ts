import { basic, call } from './http.ts';
import { startDevice, type DeviceOptions, type RunningDevice } from '../../src/device/runtime.ts';
import { tempDir, eventually } from './common.ts';

export { tempDir, eventually };

export const TEST_PASSWORD = 'test-password';

/** A real device (real SQLite file, real HTTP) on a free loopback port, on a fast clock. */
export async function startTestDevice(
  options: Partial<DeviceOptions> = {},
): Promise<RunningDevice & { api: LocalApi; cleanup(): Promise<void> }> {
  const dir = options.dataDir ? undefined : tempDir();
  const device = await startDevice({
    dataDir: options.dataDir ?? dir!.path,
    port: 0,
    password: TEST_PASSWORD,
    // 10 s → 0.5 s between first retries, a 1.5 s attempt deadline: fast, yet roomy on a loaded machine
    timeScale: 0.05,
    timeZone: 'Asia/Bangkok',
    carrierDelays: { sendDelayMs: 5, reportDelayMs: 10 },
    ...options,
  });
  return Object.assign(device, {
    api: new LocalApi(device.url, device.username, TEST_PASSWORD),
    async cleanup() {
      await device.stop({ graceMs: 1000 });
      dir?.remove();
    },
  });
}

/** A tiny client of the Local API for tests: returns status and parsed body. */
export class LocalApi {
  constructor(
    readonly url: string,
    readonly username: string,
    readonly password: string,
  ) {}

  get authorization(): string {
    return basic(this.username, this.password);
  }

  /** A string body goes as it is (labelled JSON), so tests can send malformed JSON. */
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const reply = await call<T>(this.url + path, method, {
      auth: this.authorization,
      ...(typeof body === 'string' ? { rawBody: body } : { body }),
      headers: { ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
    });
    return { status: reply.status, body: reply.body, headers: reply.headers };
  }
}
