import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command, ParsedArgs } from './command.ts';
import { stringOpt, UsageError } from './command.ts';
import { createCa, issueServerCert, parseSubjectNames } from './pki.ts';
import { makePrivateDir, writePrivateFile } from '../shared/private-files.ts';

const caPaths = (dataDir: string) => ({
  dir: join(dataDir, 'ca'),
  key: join(dataDir, 'ca', 'ca.key.pem'),
  cert: join(dataDir, 'ca', 'ca.crt.pem'),
});

const dataDirOf = (args: ParsedArgs) => resolve(stringOpt(args, 'data-dir')!);

export const init: Command = {
  name: 'ca init',
  summary:
    'Create a private certificate authority (DATA_DIR/ca/ca.key.pem and ca.crt.pem) to issue certificates for IP addresses.',
  options: {
    'data-dir': { type: 'string', description: 'where the CA is kept (in its ca/ folder)', default: './data' },
    name: { type: 'string', description: 'common name of the CA certificate' },
    force: { type: 'boolean', description: 'replace an existing CA (certificates it issued stop being trusted)' },
  },
  async run(args) {
    const paths = caPaths(dataDirOf(args));
    if (!args.values.force && (existsSync(paths.key) || existsSync(paths.cert))) {
      throw new Error(
        `a CA already exists in ${paths.dir}; pass --force to replace it (certificates it issued will stop being trusted)`,
      );
    }
    const ca = await createCa({ commonName: stringOpt(args, 'name') });
    makePrivateDir(paths.dir);
    writePrivateFile(paths.key, ca.keyPem);
    writeFileSync(paths.cert, ca.certPem);
    console.log(
      [
        `CA key:         ${paths.key}  (keep it private)`,
        `CA certificate: ${paths.cert}`,
        'Next: `smsgate ca issue <ip|host>...` for a server certificate, and give the CA certificate to',
        'whatever must trust it (e.g. `smsgate device --ca ' + paths.cert + '`).',
      ].join('\n'),
    );
  },
};

export const issue: Command = {
  name: 'ca issue',
  summary:
    'Issue a server key and certificate (one year, serverAuth) for IP addresses and/or host names, signed by the private CA.',
  positionals: '<ip|host>...',
  options: {
    'data-dir': { type: 'string', description: 'where the CA is kept (from `smsgate ca init`)', default: './data' },
    out: { type: 'string', description: 'folder for the key and certificate (default: DATA_DIR/certs)' },
    force: { type: 'boolean', description: 'replace existing files of the same name' },
  },
  async run(args) {
    if (args.positionals.length === 0)
      throw new UsageError('give at least one IP address or host name, e.g. `smsgate ca issue 127.0.0.1`');
    let names;
    try {
      names = parseSubjectNames(args.positionals);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const dataDir = dataDirOf(args);
    const paths = caPaths(dataDir);
    if (!existsSync(paths.key) || !existsSync(paths.cert)) {
      throw new Error(`no CA in ${paths.dir}; create one first with \`smsgate ca init --data-dir ${dataDir}\``);
    }
    const outDir = resolve(stringOpt(args, 'out') ?? join(dataDir, 'certs'));
    // Named after the first host, with '*' spelled out so the name is a plain file name.
    const base = names[0].value.replace(/^\*\./, 'wildcard.').replace(/[^A-Za-z0-9._-]/g, '_');
    const keyFile = join(outDir, `${base}.key.pem`);
    const certFile = join(outDir, `${base}.crt.pem`);
    if (!args.values.force && (existsSync(keyFile) || existsSync(certFile))) {
      throw new Error(`${certFile} or its key already exists; pass --force to replace them`);
    }
    const issued = await issueServerCert(
      { keyPem: readFileSync(paths.key, 'utf8'), certPem: readFileSync(paths.cert, 'utf8') },
      args.positionals,
    );
    makePrivateDir(outDir);
    writePrivateFile(keyFile, issued.keyPem);
    writeFileSync(certFile, issued.certPem);
    console.log(
      [
        `key:         ${keyFile}`,
        `certificate: ${certFile}`,
        `names:       ${issued.names.map((n) => `${n.type === 'ip' ? 'IP' : 'DNS'}:${n.value}`).join(', ')}`,
        `valid until: ${issued.notAfter.toISOString()}`,
        `issuer:      ${paths.cert}`,
        `Serve with it, e.g. \`smsgate server --tls-cert ${certFile} --tls-key ${keyFile}\``,
        `or \`smsgate listen --tls --cert ${certFile} --key ${keyFile}\`.`,
      ].join('\n'),
    );
  },
};
