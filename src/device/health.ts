import type { Health, HealthCheck } from '../protocol/index.ts';
import type { Outbox } from './store/outbox.ts';
import type { MessageStore } from './store/messages.ts';
import type { NetworkState } from './network.ts';
import type { Clock } from '../shared/clock.ts';
import { VERSION, RELEASE_ID } from '../shared/version.ts';

const rank = { pass: 0, warn: 1, fail: 2 } as const;

/** The device's health document, also the payload of system:ping. */
export function deviceHealth(deps: {
  outbox: Outbox;
  messages: MessageStore;
  network: NetworkState;
  clock: Clock;
  batteryLevel: () => number;
}): Health {
  const hourAgo = deps.clock.now() - 3_600_000;
  const failedMessages = deps.messages.countFailedSince(hourAgo);
  const battery = deps.batteryLevel();
  const online = deps.network.isOnline();
  const { queued, failed } = deps.outbox.queueCounts();
  const checks: Record<string, HealthCheck> = {
    'messages:failed': {
      description: 'Failed messages in the last hour',
      observedValue: failedMessages,
      observedUnit: 'messages',
      status: failedMessages > 0 ? 'warn' : 'pass',
    },
    'battery:level': {
      description: 'Battery level',
      observedValue: battery,
      observedUnit: 'percent',
      status: battery < 10 ? 'fail' : battery < 20 ? 'warn' : 'pass',
    },
    'connection:status': {
      description: 'Internet connectivity (1 online, 0 offline)',
      observedValue: online ? 1 : 0,
      observedUnit: 'boolean',
      status: online ? 'pass' : 'warn',
    },
    'webhooks:queue': {
      description: 'Webhook deliveries waiting or in flight',
      observedValue: queued,
      observedUnit: 'deliveries',
      status: queued > 100_000 ? 'warn' : 'pass',
    },
    'webhooks:failed': {
      description: 'Webhook deliveries that failed for good (see GET /deliveries?state=failed)',
      observedValue: failed,
      observedUnit: 'deliveries',
      status: failed > 0 ? 'warn' : 'pass',
    },
  };
  const worst = Object.values(checks).reduce<Health['status']>(
    (acc, c) => (rank[c.status] > rank[acc] ? c.status : acc),
    'pass',
  );
  return { status: worst, version: VERSION, releaseId: RELEASE_ID, checks };
}
