import type { Command } from './command.ts';
import { intOpt, requireOpt, UsageError } from './command.ts';
import { callApi, TARGET_OPTIONS, targetFrom } from './api-client.ts';

const { device, username, password } = TARGET_OPTIONS;

const command: Command = {
  name: 'sim receive',
  summary: 'Make the virtual carrier deliver an incoming SMS to a device (emits sms:received).',
  positionals: '<text>',
  options: {
    device,
    username,
    password,
    from: { type: 'string', description: 'sender phone number' },
    sim: { type: 'string', description: 'SIM card that receives it (1-based)' },
  },
  async run(args) {
    const text = args.positionals.join(' ');
    if (!text) throw new UsageError('give the text of the incoming SMS');
    const result = await callApi(targetFrom(args, false), 'POST', '/sim/v1/incoming', {
      from: requireOpt(args, 'from'),
      text,
      ...(intOpt(args, 'sim') !== undefined ? { simNumber: intOpt(args, 'sim') } : {}),
    });
    console.log(JSON.stringify(result));
  },
};
export default command;
