import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from './command.ts';
import { intOpt, requireOpt, stringOpt, UsageError } from './command.ts';
import { callApi, TARGET_OPTIONS, targetFrom } from './api-client.ts';

const { device, username, password } = TARGET_OPTIONS;

const TYPES = ['sms', 'data', 'mms'] as const;
const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.txt': 'text/plain',
  '.vcf': 'text/x-vcard',
  '.mp4': 'video/mp4',
  '.mp3': 'audio/mpeg',
};

const command: Command = {
  name: 'sim receive',
  summary:
    'Make the virtual carrier deliver an incoming SMS, data SMS or MMS to a device (sms:received, sms:data-received, mms:received then mms:downloaded).',
  positionals: '[text]',
  options: {
    device,
    username,
    password,
    from: { type: 'string', description: 'sender phone number' },
    sim: { type: 'string', description: 'SIM card that receives it (1-based)' },
    type: { type: 'string', description: 'sms (default), data or mms', default: 'sms' },
    data: { type: 'string', description: 'data: the body, base64' },
    port: { type: 'string', description: 'data: the destination port (0-65535)' },
    subject: { type: 'string', description: 'mms: the subject' },
    attach: {
      type: 'string',
      multiple: true,
      description: 'mms: a file to attach (repeatable); its content type comes from the extension',
    },
  },
  async run(args) {
    const type = stringOpt(args, 'type') ?? 'sms';
    if (!(TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${TYPES.join(', ')}`);
    const text = args.positionals.join(' ');
    const sim = intOpt(args, 'sim');
    const common = { from: requireOpt(args, 'from'), ...(sim !== undefined ? { simNumber: sim } : {}) };
    let body: Record<string, unknown>;
    if (type === 'sms') {
      if (!text) throw new UsageError('give the text of the incoming SMS');
      body = { ...common, text };
    } else if (type === 'data') {
      if (text) throw new UsageError('a data SMS has no text: give --data (base64)');
      const port = intOpt(args, 'port');
      if (port === undefined) throw new UsageError('a data SMS needs --port');
      body = { ...common, type: 'DATA_SMS', data: requireOpt(args, 'data'), port };
    } else {
      const files = (args.values.attach as string[] | undefined) ?? [];
      const attachments = files.map((file) => ({
        contentType: CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        name: basename(file),
        data: readAttachment(file),
      }));
      const subject = stringOpt(args, 'subject');
      body = {
        ...common,
        type: 'MMS',
        ...(subject ? { subject } : {}),
        ...(text ? { body: text } : {}),
        ...(attachments.length ? { attachments } : {}),
      };
    }
    const result = await callApi(targetFrom(args, false), 'POST', '/sim/v1/incoming', body);
    console.log(JSON.stringify(result));
  },
};
export default command;

function readAttachment(file: string): string {
  try {
    return readFileSync(file).toString('base64');
  } catch (error) {
    throw new UsageError(`cannot read --attach ${file}: ${(error as Error).message}`);
  }
}
