import { rootCertificates } from 'node:tls';

/**
 * TLS connect options that trust the bundled roots and these extra PEM certificates (a private CA,
 * e.g. the one of `smsgate ca init`); none given, the defaults. The device's webhook deliveries and
 * its link to a server use them.
 */
export function trustingConnect(extraCa: readonly string[] | undefined): { ca: string[] } | undefined {
  return extraCa?.length ? { ca: [...rootCertificates, ...extraCa] } : undefined;
}
