import type { Health, HealthCheck } from '../../protocol/index.ts';
import { RELEASE_ID, VERSION } from '../../shared/version.ts';
import type { HealthRepository } from './repository.ts';

/** a database round trip slower than this makes the check warn */
const SLOW_PING_MS = 1000;

export class HealthService {
  constructor(
    private readonly repo: HealthRepository,
    private readonly now: () => number = () => performance.now(),
    /** more checks (e.g. the push hub's `events:listen`) */
    private readonly extraChecks: () => Record<string, HealthCheck> = () => ({}),
  ) {}

  /** Liveness: the process answers; nothing else is checked. */
  live(): Health {
    return { status: 'pass', version: VERSION, releaseId: RELEASE_ID, checks: {} };
  }

  /** Readiness and `/health`: the database answers. */
  async check(): Promise<Health> {
    const started = this.now();
    let dbPing: HealthCheck;
    try {
      await this.repo.ping();
      const ms = Math.round((this.now() - started) * 100) / 100;
      dbPing = {
        description: 'database round trip',
        observedValue: ms,
        observedUnit: 'ms',
        status: ms > SLOW_PING_MS ? 'warn' : 'pass',
      };
    } catch {
      dbPing = {
        description: 'database round trip (failed: the database does not answer)',
        observedValue: 0,
        observedUnit: 'ms',
        status: 'fail',
      };
    }
    const checks = { 'db:ping': dbPing, ...this.extraChecks() };
    const statuses = Object.values(checks).map((c) => c.status);
    const status = statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'pass';
    return { status, version: VERSION, releaseId: RELEASE_ID, checks };
  }
}
