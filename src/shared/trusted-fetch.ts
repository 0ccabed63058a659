import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

/** TLS connect options that trust the bundled roots and these extra PEM certificates (a private CA); none given, the defaults. */
export function trustingConnect(extraCa: readonly string[] | undefined): { ca: string[] } | undefined {
  return extraCa?.length ? { ca: [...rootCertificates, ...extraCa] } : undefined;
}

/**
 * A `fetch` whose HTTPS connections also trust `extraCa` (e.g. the CA of `smsgate ca init`), for a
 * server whose certificate that CA issued; `close` ends its connections.
 */
export function trustingFetch(extraCa: readonly string[]): { fetch: typeof fetch; close(): Promise<void> } {
  const dispatcher = new Agent({ connect: trustingConnect(extraCa) });
  const trusting = (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    });
  return { fetch: trusting as unknown as typeof fetch, close: () => dispatcher.close() };
}
