import type { Command } from './command.ts';
import { intOpt, UsageError } from './command.ts';
import { callApi, TARGET_OPTIONS, targetFrom } from './api-client.ts';
import type { MessageState } from '../protocol/index.ts';

const command: Command = {
  name: 'send',
  summary:
    'Send an SMS through a device (or a server). Magic numbers +15550000001..4 make the virtual carrier fail on purpose.',
  positionals: '<text>',
  options: {
    ...TARGET_OPTIONS,
    to: { type: 'string', description: 'recipient phone number (repeatable)', multiple: true },
    sim: { type: 'string', description: 'SIM card number (1-based)' },
    'no-delivery-report': { type: 'boolean', description: 'do not ask for a delivery report' },
  },
  async run(args) {
    const to = (args.values.to as string[] | undefined) ?? [];
    const text = args.positionals.join(' ');
    if (to.length === 0) throw new UsageError('give at least one --to number');
    if (!text) throw new UsageError('give the text to send');
    const state = await callApi<MessageState>(targetFrom(args), 'POST', '/message', {
      message: text,
      phoneNumbers: to,
      simNumber: intOpt(args, 'sim') ?? null,
      withDeliveryReport: args.values['no-delivery-report'] !== true,
    });
    console.log(JSON.stringify(state));
  },
};
export default command;
