import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from './command.ts';
import { intOpt, printReady, stopOnSignals, stringOpt } from './command.ts';
import { createServer } from '../server/server.ts';
import { startDevice } from '../device/runtime.ts';
import { timeScaleFromEnv } from '../shared/clock.ts';
import { randomSecret } from '../shared/ids.ts';
import { makePrivateDir, writePrivateFile } from '../shared/private-files.ts';

interface QuickstartCredentials {
  device: { username: string; password: string };
  server?: { login: string; password: string };
}

const command: Command = {
  name: 'up',
  summary: 'Start a server and one virtual device linked to it, on embedded defaults (SQLite in the data dir).',
  options: {
    'data-dir': { type: 'string', description: 'server.db, device/ and credentials.json live here', default: './data' },
    port: { type: 'string', description: 'server port', default: '3000' },
    'device-port': { type: 'string', description: "the device's Local API port", default: '8080' },
    host: { type: 'string', description: 'address both listen on', default: '127.0.0.1' },
    tz: { type: 'string', description: 'time zone of the device (IANA name; default: the system zone)' },
  },
  async run(args) {
    const dataDir = resolve(stringOpt(args, 'data-dir')!);
    const host = stringOpt(args, 'host')!;
    makePrivateDir(dataDir);
    // The stores keep passwords only as hashes; this quick-start file keeps what `up` generated so
    // every run can print working credentials. Readable by its owner only.
    const credentialsFile = join(dataDir, 'credentials.json');
    const credentials: QuickstartCredentials = existsSync(credentialsFile)
      ? JSON.parse(readFileSync(credentialsFile, 'utf8'))
      : { device: { username: 'sms', password: randomSecret(9) } };

    const server = await createServer({ dataDir, port: intOpt(args, 'port'), host });
    const device = await startDevice({
      dataDir: join(dataDir, 'device'),
      port: intOpt(args, 'device-port'),
      host,
      username: credentials.device.username,
      password: credentials.device.password,
      timeZone: stringOpt(args, 'tz'),
      timeScale: timeScaleFromEnv(),
      link: { serverUrl: server.url, privateToken: server.privateToken, name: 'virtual device' },
    }).catch(async (error) => {
      await server.close();
      throw error;
    });
    const registration = device.link!.registration;
    if (device.link!.createdPassword)
      credentials.server = { login: registration.login, password: device.link!.createdPassword };
    writePrivateFile(credentialsFile, JSON.stringify(credentials, null, 2) + '\n');

    const login = credentials.server?.login ?? registration.login;
    const password = credentials.server?.password ?? '<unknown: set one with `smsgate users passwd`>';
    console.log(
      [
        `smsgate is up (data in ${dataDir})`,
        '',
        `Server 3rdparty API: ${server.thirdPartyUrl}`,
        `  login: ${login}`,
        `  password: ${password}`,
        `Device Local API: ${device.url}  (device ${registration.id} on the server)`,
        `  username: ${credentials.device.username}`,
        `  password: ${credentials.device.password}`,
        '',
        `Dashboard: ${server.url}/ (server login above)  and  ${device.url}/ (device username and password)`,
        `API docs:  ${server.url}/docs  and  ${device.url}/docs`,
        `Metrics:   ${server.url}/metrics  and  ${device.url}/metrics  (Prometheus text; loopback clients, others with the credentials)`,
        '',
        'Register a webhook (Private mode, as in the Webhooks guide), then watch it with `npx smsgate listen`:',
        '',
        `curl -X POST -u ${login}:${password} \\`,
        `  -H "Content-Type: application/json" \\`,
        `  -d '{ "url": "http://127.0.0.1:9000/webhook", "event": "sms:received" }' \\`,
        `  ${server.thirdPartyUrl}/webhooks`,
        '',
        `Make an SMS arrive: npx smsgate sim receive --device ${device.url} --password ${credentials.device.password} --from +15551234567 "Hello"`,
      ].join('\n'),
    );
    printReady({
      thirdPartyUrl: server.thirdPartyUrl,
      login,
      password: credentials.server?.password,
      deviceUrl: device.url,
      deviceUsername: credentials.device.username,
      devicePassword: credentials.device.password,
      deviceId: registration.id,
    });

    stopOnSignals(async () => {
      await device.stop();
      await server.close();
    }, 'stopping the device, then the server');
  },
};
export default command;
