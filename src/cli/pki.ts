// @peculiar/x509 uses tsyringe, which needs the Reflect metadata API before the library loads.
import 'reflect-metadata';
import { webcrypto, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 does its signing through WebCrypto; node's implementation is enough.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

// ECDSA P-256: small, fast to generate, and accepted by Android, browsers and node alike.
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_LIFETIME_DAYS = 3650;
export const SERVER_CERT_LIFETIME_DAYS = 365;
// Certificates start a little in the past so a peer whose clock lags a few minutes accepts them.
const BACKDATE_MS = 5 * 60 * 1000;

export interface PemPair {
  keyPem: string;
  certPem: string;
}

export type SubjectName = { type: 'ip' | 'dns'; value: string };

/** Sort hosts into IP and DNS subject alternative names; throws a message naming a bad one. */
export function parseSubjectNames(hosts: string[]): SubjectName[] {
  if (hosts.length === 0) throw new Error('give at least one IP address or host name, e.g. 127.0.0.1 or my-server.lan');
  return hosts.map((raw) => {
    const host = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (isIP(host)) return { type: 'ip', value: host };
    const name = host.toLowerCase().replace(/\.$/, '');
    const label = '(?!-)[a-z0-9-]{1,63}(?<!-)';
    // An all-digit last label is no host name; it is an IP address with a typo, like 192.168.1.300.
    const lastLabelNumeric = /(^|\.)[0-9]+$/.test(name);
    if (name.length <= 253 && !lastLabelNumeric && new RegExp(`^(\\*\\.)?(${label}\\.)*${label}$`).test(name)) {
      return { type: 'dns', value: name };
    }
    throw new Error(`"${raw}" is neither an IP address nor a valid host name`);
  });
}

/** A new private certificate authority: a self-signed CA certificate that may sign server certificates only. */
export async function createCa(options: { commonName?: string; now?: Date } = {}): Promise<PemPair> {
  const keys = await generateKeys();
  const notBefore = new Date((options.now ?? new Date()).getTime() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(options.commonName ?? `smsgate private CA ${new Date().toISOString().slice(0, 10)}`),
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_LIFETIME_DAYS * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      // pathLength 0: this CA signs leaf certificates, never other CAs.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), certPem: cert.toString('pem') + '\n' };
}

/** A server certificate for the given IPs/host names, signed by the CA, valid for one year. */
export async function issueServerCert(
  ca: PemPair,
  hosts: string[],
  options: { now?: Date } = {},
): Promise<PemPair & { names: SubjectName[]; notAfter: Date }> {
  const names = parseSubjectNames(hosts);
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKey(ca.keyPem);
  const keys = await generateKeys();
  const notBefore = new Date((options.now ?? new Date()).getTime() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + SERVER_CERT_LIFETIME_DAYS * DAY_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: distinguishedName(names[0].value),
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // Clients match IPs and names against the SAN only, never the CN.
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: n.type, value: n.value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { keyPem: await exportPrivateKey(keys.privateKey), certPem: cert.toString('pem') + '\n', names, notAfter };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n';
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  let der: ArrayBuffer;
  try {
    der = x509.PemConverter.decodeFirst(pem);
  } catch {
    throw new Error('the CA key file is not a PEM private key');
  }
  try {
    return (await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign'])) as CryptoKey;
  } catch (error) {
    throw new Error(
      `the CA key is not an ECDSA P-256 PKCS#8 key as \`smsgate ca init\` writes: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** A random 16-byte serial: top bit clear so it is positive, first byte non-zero so DER keeps all 16 bytes. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return bytes.toString('hex');
}

function distinguishedName(commonName: string): string {
  // RFC 4514 escaping for the few characters that are special in a DN string.
  return `CN=${commonName.replace(/([,+"\\<>;=])/g, '\\$1')}`;
}
