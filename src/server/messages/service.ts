import {
  DUPLICATE_MESSAGE_ID,
  notPendingMessage,
  PROCESS_STATES,
  PULL_LIMIT,
  STATE_RANK,
  type PullOrder,
  type MessageReport,
  type MessageState,
  type MobileMessage,
  type ProcessState,
  type SendMessage,
} from '../../protocol/index.ts';
import type { Clock } from '../../shared/clock.ts';
import { newId } from '../../shared/ids.ts';
import type { DeviceRecord } from '../devices/repository.ts';
import type { DevicesService } from '../devices/service.ts';
import type { PushHub } from '../push/hub.ts';
import type { MessageFilter, MessagePage, MessageRecord, MessagesRepository, StateReport } from './repository.ts';
import { InvalidInputError, NotFoundError, ConflictError } from '../../shared/errors.ts';
import { requireIsoDateTime } from '../../shared/iso-dates.ts';
import { contentOfStored, parseSendRequest, storedContent } from '../../shared/send-request.ts';

/** One item of `PATCH /mobile/v1/message`, as the device sends it. */
export type StateReportRequest = MessageReport;

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A limit too far out for a date (stored before ttl had a maximum) is no limit: one such message
 * must not make every pull of its device fail.
 */
const validUntilOf = (m: MessageRecord): string | null =>
  m.validUntil === null || !Number.isFinite(new Date(m.validUntil).getTime()) ? null : iso(m.validUntil);

export function toMessageState(m: MessageRecord, options: { includeContent?: boolean } = {}): MessageState {
  const states: Record<string, string> = {};
  for (const state of PROCESS_STATES) if (m.states[state] !== undefined) states[state] = iso(m.states[state]!);
  return {
    id: m.id,
    deviceId: m.deviceId,
    state: m.state,
    isHashed: m.isHashed,
    isEncrypted: m.isEncrypted,
    recipients: m.recipients.map((r) => ({
      phoneNumber: r.phoneNumber,
      state: r.state,
      ...(r.error ? { error: r.error } : {}),
    })),
    states,
    ...(options.includeContent ? (m.isHashed ? { hashedMessage: { hash: m.text } } : contentOfStored(m)) : {}),
  };
}

export function toMobileMessage(m: MessageRecord): MobileMessage {
  const content = contentOfStored(m);
  return {
    id: m.id,
    // the deprecated field, for phones that read only it (a data SMS has no text)
    ...('textMessage' in content ? { message: content.textMessage.text } : {}),
    ...content,
    phoneNumbers: m.recipients.map((r) => r.phoneNumber),
    simNumber: m.simNumber,
    withDeliveryReport: m.withDeliveryReport,
    isEncrypted: m.isEncrypted,
    priority: m.priority,
    validUntil: validUntilOf(m),
    scheduleAt: m.scheduleAt === null ? null : iso(m.scheduleAt),
    state: m.state,
    createdAt: iso(m.createdAt),
  };
}

export class MessagesService {
  constructor(
    private readonly repo: MessagesRepository,
    private readonly devices: DevicesService,
    private readonly hub: PushHub,
    private readonly clock: Clock,
    private readonly options: { keepContent?: boolean } = {},
  ) {}

  /** Store a message for one of the user's devices and push it to that device. */
  async send(
    userId: string,
    request: SendMessage,
    options: { skipPhoneValidation?: boolean; deviceActiveWithin?: number } = {},
  ): Promise<MessageRecord> {
    const now = this.clock.now();
    const parsed = parseSendRequest(request, { skipPhoneValidation: options.skipPhoneValidation, now });
    const deviceId = await this.devices.pickForMessage(
      userId,
      parsed.deviceId ?? undefined,
      options.deviceActiveWithin,
    );
    const message: MessageRecord = {
      userId,
      id: parsed.id ?? newId(),
      deviceId,
      ...storedContent(parsed.content),
      simNumber: parsed.simNumber,
      withDeliveryReport: parsed.withDeliveryReport,
      isEncrypted: parsed.isEncrypted,
      priority: parsed.priority,
      validUntil: parsed.validUntil,
      scheduleAt: parsed.scheduleAt,
      isHashed: false,
      state: 'Pending',
      createdAt: now,
      updatedAt: now,
      recipients: parsed.phoneNumbers.map((phoneNumber) => ({ phoneNumber, state: 'Pending', error: null })),
      states: { Pending: now },
    };
    if ((await this.repo.insertMessage(message)) === 'duplicate-id') {
      throw new ConflictError(`${DUPLICATE_MESSAGE_ID}: you already have "${message.id}"; omit id to get a fresh one`);
    }
    // with the message itself: the device takes it from the push, without a pull's round trip
    await this.hub.publish([deviceId], {
      type: 'MessageEnqueued',
      data: { id: message.id, message: toMobileMessage(message) },
    });
    return message;
  }

  /**
   * Cancel a Pending message: it becomes Cancelling and its device is told (`MessageCancelled`); the
   * device answers with Cancelled, or with the state it had already reached. 409 past Pending.
   */
  async cancel(userId: string, id: string): Promise<MessageRecord> {
    const message = await this.get(userId, id);
    if (message.state !== 'Pending') throw new ConflictError(notPendingMessage(id, message.state));
    if (!(await this.repo.markCancelling(userId, id, this.clock.now()))) {
      // a report moved it on between the read and the update
      throw new ConflictError(notPendingMessage(id, (await this.get(userId, id)).state));
    }
    await this.hub.publish([message.deviceId], { type: 'MessageCancelled', data: { messageId: id } });
    return this.get(userId, id);
  }

  async get(userId: string, id: string): Promise<MessageRecord> {
    const message = await this.repo.getUserMessage(userId, id);
    if (!message) throw new NotFoundError(`you have no message with id "${id}"`);
    return message;
  }

  list(userId: string, filter: MessageFilter, page: MessagePage) {
    return this.repo.listUserMessages(userId, filter, page);
  }

  /**
   * What the device is handed on a pull: its Pending messages and, in the room left, its Cancelling
   * ones (state `Cancelling`), so a device that missed the MessageCancelled push still learns of it.
   */
  async pending(device: DeviceRecord, order: PullOrder = 'lifo'): Promise<MessageRecord[]> {
    const pending = await this.repo.listPendingForDevice(device.id, PULL_LIMIT, order);
    if (pending.length >= PULL_LIMIT) return pending;
    return [...pending, ...(await this.repo.listCancellingForDevice(device.id, PULL_LIMIT - pending.length))];
  }

  /**
   * Apply a device's state reports. Reports about messages that are not this device's are
   * ignored (as in the original): a device learns nothing about other messages.
   */
  async report(device: DeviceRecord, reports: StateReportRequest[]): Promise<{ applied: number }> {
    const parsed: StateReport[] = reports.map((r, i) => ({
      id: r.id,
      state: acknowledged(r.state),
      recipients: r.recipients.map((recipient) => ({ ...recipient, state: acknowledged(recipient.state) })),
      states: parseStateTimes(r.states ?? {}, `[${i}].states`),
    }));
    // once final, only hashes of the content and the numbers are kept (unless told to keep them)
    const hashFinal = (report: StateReport) =>
      !this.options.keepContent && STATE_RANK[report.state] === STATE_RANK.Delivered;
    const applied = await this.repo.applyStateReports(
      device.id,
      parsed.map((report) => ({ report, options: { hashFinal: hashFinal(report) } })),
      this.clock.now(),
    );
    return { applied };
  }
}

/**
 * A phone reports `Pending` for a message it has taken but not yet sent: for the server that is
 * `Processed` (as in the original), so the message leaves the pull and the next pull hands out
 * the ones behind it.
 */
const acknowledged = (state: ProcessState): ProcessState => (state === 'Pending' ? 'Processed' : state);

function parseStateTimes(states: Record<string, string>, where: string): StateReport['states'] {
  const out: StateReport['states'] = {};
  for (const [state, at] of Object.entries(states)) {
    if (!(PROCESS_STATES as readonly string[]).includes(state)) {
      throw new InvalidInputError(`${where}: unknown state "${state}"; use one of ${PROCESS_STATES.join(', ')}`);
    }
    out[state as ProcessState] = requireIsoDateTime(at, `${where}.${state}`);
  }
  return out;
}
