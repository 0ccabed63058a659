import type { RevocationNotice } from './hub.ts';

/** What opened a stream: whose it is and with which credential. */
export interface StreamOwner {
  userId: string;
  /** the token family of the access token that opened it (none: Basic auth) */
  familyId?: string;
  /** a device's push stream (`GET /mobile/v1/events`) */
  deviceId?: string;
}

/**
 * The event streams open on this node, by what opened them, so that a revocation (heard from the
 * hub, from any node) ends the ones it concerns: a changed password ends the user's live streams,
 * a revoked token family those it opened, a deleted device its push stream.
 */
export class OpenStreams {
  private readonly streams = new Map<() => void, StreamOwner>();

  /** Keep `end` until the returned function is called (when the stream closes). */
  add(owner: StreamOwner, end: () => void): () => void {
    this.streams.set(end, owner);
    return () => this.streams.delete(end);
  }

  /** End the streams the notice concerns; how many. */
  revoke(notice: RevocationNotice): number {
    let ended = 0;
    for (const [end, owner] of [...this.streams]) {
      if (owner.userId !== notice.userId || !concerns(notice, owner)) continue;
      this.streams.delete(end);
      end();
      ended++;
    }
    return ended;
  }
}

function concerns(notice: RevocationNotice, owner: StreamOwner): boolean {
  switch (notice.kind) {
    case 'password':
      return owner.deviceId === undefined;
    case 'tokens':
      return owner.familyId === notice.familyId;
    case 'device':
      return owner.deviceId === notice.deviceId;
  }
}
