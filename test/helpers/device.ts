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
    return 'Basic ' + Buffer.from(`${this.username}:${this.password}`).toString('base64');
  }

  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        authorization: this.authorization,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // leave as text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }
}
