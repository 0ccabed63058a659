import type { Registry } from 'prom-client';
import type { App } from './http.ts';
import { hotLogLine } from './logger.ts';
import { httpRequestMetrics } from './metrics.ts';

/**
 * What every smsgate API records per request: `X-Request-Id` echoed on the answer, one log line
 * (method, route, status, time, request id) and the request metrics. Two callback-style hooks for
 * all of it: hooks run on every request, and each one, or each promise an async one makes, costs
 * a measurable share of a small request.
 */
export function installRequestTelemetry(app: App, registry: Registry): void {
  const observe = httpRequestMetrics(registry);
  const logLine = hotLogLine(app.log);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const ms = reply.elapsedTime;
    observe(request.method, route ?? 'unmatched', reply.statusCode, ms / 1000);
    logLine(
      request.log,
      'info',
      {
        method: request.method,
        url: request.url,
        route,
        status: reply.statusCode,
        ms: Math.round(ms * 10) / 10,
        ip: request.ip,
      },
      'request',
    );
    done();
  });
}
