import type { Command } from './command.ts';
import { UsageError } from './command.ts';
import { callApi, TARGET_OPTIONS, targetFrom } from './api-client.ts';

const { device, username, password } = TARGET_OPTIONS;

const command: Command = {
  name: 'sim network',
  summary: 'Switch the virtual device online or offline (deliveries wait while offline if internet is required).',
  positionals: 'online|offline',
  options: { device, username, password },
  async run(args) {
    const wanted = args.positionals[0];
    if (wanted !== 'online' && wanted !== 'offline') throw new UsageError('say online or offline');
    console.log(
      JSON.stringify(
        await callApi(targetFrom(args, false), 'POST', '/sim/v1/network', { online: wanted === 'online' }),
      ),
    );
  },
};
export default command;
