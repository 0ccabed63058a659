import type { DeviceContext } from './context.ts';
import { VERSION } from '../shared/version.ts';

/**
 * What the device writes to its own log (`GET /logs`), module by module: `system` (started),
 * `messages` (each state a message reaches; Failed as WARN), `webhooks` (each attempt that did
 * not succeed, WARN), `settings` (a change). The link writes `gateway` itself (registration, the
 * push stream, refused pushes). Never message text, numbers or secrets: ids, states, addresses.
 */
export function recordDeviceActivity(
  ctx: Pick<DeviceContext, 'log' | 'sms' | 'observability' | 'settings' | 'deviceId'>,
): void {
  const { log } = ctx;
  log.write('INFO', 'system', 'device started', { deviceId: ctx.deviceId, version: VERSION });
  ctx.sms.onStateChange((id) => {
    const message = ctx.sms.get(id);
    if (!message) return;
    log.write(message.state === 'Failed' ? 'WARN' : 'INFO', 'messages', `message ${id}: ${message.state}`, {
      id,
      state: message.state,
      source: message.source,
    });
  });
  ctx.observability.onAttempt((notice) => {
    if (notice.outcome === 'succeeded') return;
    const what = notice.status !== null ? `HTTP ${notice.status}` : (notice.error ?? 'no answer');
    log.write(
      'WARN',
      'webhooks',
      `delivery ${notice.deliveryId}, attempt ${notice.attempt}: ${what}; ${notice.outcome === 'retry' ? 'tried again later' : 'given up'}`,
      {
        deliveryId: notice.deliveryId,
        attempt: notice.attempt,
        outcome: notice.outcome,
        // already masked (redactUrl) by the observability that sent the notice
        url: notice.url,
      },
    );
  });
  ctx.settings.onChange(() => log.write('INFO', 'settings', 'settings changed'));
}
