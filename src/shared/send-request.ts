import { DUPLICATE_PHONE_NUMBERS, type MessageContent, type SendMessage } from '../protocol/index.ts';
import { InvalidInputError } from './errors.ts';
import { requireIsoDateTime } from './iso-dates.ts';

/** How a message is to be sent, as the request gives it and as both runtimes store it with the message. */
export interface SendOptions {
  simNumber: number | null;
  withDeliveryReport: boolean;
  isEncrypted: boolean;
  priority: number;
  /** epoch ms after which the message must not be sent; from `validUntil` or `ttl` */
  validUntil: number | null;
  /** epoch ms before which the message is held; null = as soon as possible */
  scheduleAt: number | null;
}

/**
 * A send request (`POST /message(s)` on the device's Local API and the server's 3rdparty API) as
 * both runtimes store it: every rule checked, defaults filled, times as epoch ms.
 */
export interface SendRequest extends SendOptions {
  /** null: the runtime generates one */
  id: string | null;
  content: MessageContent;
  phoneNumbers: string[];
  /** null: any device (on the server) or this one */
  deviceId: string | null;
}

/** Digits with an optional leading +, after the usual separators (spaces, dots, dashes, brackets) are taken out. */
const PHONE_NUMBER = /^\+?[0-9]{3,20}$/;
const SEPARATORS = /[\s().-]/g;
/** Standard base64 (RFC 4648 §4), padded or not; URL-safe base64 is refused. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** A phone number without its separators: "+1 (555) 010-0" is "+15550100". Two recipients are the same when these match. */
export const normalizePhoneNumber = (phoneNumber: string): string => phoneNumber.replace(SEPARATORS, '');

/**
 * Check a send request and fill its defaults. `skipPhoneValidation` (the `?skipPhoneValidation=true`
 * query parameter) and `isEncrypted` (the numbers are ciphertext) take the numbers as they are;
 * `now` turns `ttl` into `validUntil`. Throws InvalidInputError naming the rule broken.
 */
export function parseSendRequest(
  body: SendMessage,
  options: { skipPhoneValidation?: boolean; now: number },
): SendRequest {
  const isEncrypted = body.isEncrypted ?? false;
  const content = contentOf(body);
  checkPhoneNumbers(body.phoneNumbers, !(options.skipPhoneValidation || isEncrypted));
  if (body.ttl != null && body.validUntil != null) {
    throw new InvalidInputError('give ttl or validUntil, not both (fields conflict: ttl and validUntil)');
  }
  let validUntil: number | null = null;
  if (body.validUntil != null) validUntil = requireIsoDateTime(body.validUntil, 'validUntil');
  else if (body.ttl != null) validUntil = options.now + body.ttl * 1000;
  return {
    id: body.id == null || body.id === '' ? null : body.id,
    content,
    phoneNumbers: body.phoneNumbers,
    simNumber: body.simNumber ?? null,
    withDeliveryReport: body.withDeliveryReport ?? true,
    isEncrypted,
    priority: body.priority ?? 0,
    validUntil,
    scheduleAt: body.scheduleAt == null ? null : requireIsoDateTime(body.scheduleAt, 'scheduleAt'),
    deviceId: body.deviceId == null || body.deviceId === '' ? null : body.deviceId,
  };
}

/** Exactly one of textMessage, dataMessage and the deprecated message. */
function contentOf(body: SendMessage): MessageContent {
  const given = (['textMessage', 'dataMessage', 'message'] as const).filter((key) => body[key] != null);
  if (given.length === 0) {
    throw new InvalidInputError(
      'the message has no content: give exactly one of textMessage {text}, dataMessage {data, port} or message (deprecated)',
    );
  }
  if (given.length > 1) {
    throw new InvalidInputError(
      `give exactly one of textMessage, dataMessage and message, not ${given.join(' and ')} (multiple message types)`,
    );
  }
  if (body.dataMessage != null) {
    const { data, port } = body.dataMessage;
    if (data === '' || !BASE64.test(data)) {
      throw new InvalidInputError('dataMessage.data must be the bytes to send in base64 (e.g. "SGVsbG8="), not empty');
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidInputError(`dataMessage.port must be between 0 and 65535, got ${port}`);
    }
    return { dataMessage: { data, port } };
  }
  const text = body.textMessage != null ? body.textMessage.text : body.message!;
  if (text === '') throw new InvalidInputError('the text message is empty: give the text to send');
  return { textMessage: { text } };
}

function checkPhoneNumbers(phoneNumbers: readonly string[], validate: boolean): void {
  const seen = new Set<string>();
  for (const [i, number] of phoneNumbers.entries()) {
    const key = validate ? normalizePhoneNumber(number) : number;
    if (validate && !PHONE_NUMBER.test(key)) {
      throw new InvalidInputError(
        `phoneNumbers[${i}] "${number}" is not a phone number (3 to 20 digits, optionally a leading +); pass ?skipPhoneValidation=true to send it as is`,
      );
    }
    if (seen.has(key)) throw new InvalidInputError(DUPLICATE_PHONE_NUMBERS);
    seen.add(key);
  }
}

/**
 * How both runtimes keep a content in their messages table: the text, or for a data SMS its
 * base64 bytes, in `text`; `data_port` set only for a data SMS.
 */
export function storedContent(content: MessageContent): { text: string; dataPort: number | null } {
  return 'dataMessage' in content
    ? { text: content.dataMessage.data, dataPort: content.dataMessage.port }
    : { text: content.textMessage.text, dataPort: null };
}

/** The content a stored row holds (the inverse of storedContent). */
export function contentOfStored(row: { text: string; dataPort: number | null }): MessageContent {
  return row.dataPort === null
    ? { textMessage: { text: row.text } }
    : { dataMessage: { data: row.text, port: row.dataPort } };
}
