import type { MobileMessage } from '../../src/protocol/index.ts';

/** A Pending text message as `GET /mobile/v1/message` hands it out (and `MessageEnqueued` carries it). */
export function mobileMessage(id: string, text = 'hi'): MobileMessage {
  return {
    id,
    message: text,
    textMessage: { text },
    phoneNumbers: ['+15550102000'],
    simNumber: null,
    withDeliveryReport: true,
    isEncrypted: false,
    priority: 0,
    validUntil: null,
    scheduleAt: null,
    state: 'Pending',
    createdAt: '2026-12-03T10:00:00.000Z',
  };
}
