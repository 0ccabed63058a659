import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  name?: string;
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

export interface Tarball {
  /** file name, relative to the consuming project */
  file: string;
  /** the package.json inside the tarball */
  manifest: {
    name: string;
    version: string;
    dependencies?: Record<string, string>;
    bin?: Record<string, string>;
    engines?: Record<string, string>;
  };
  bytes: Buffer;
}

const REGISTRY = 'https://registry.npmjs.org/';

/**
 * package-lock.json for a project that depends on the given tarballs, pinning their dependencies
 * to the versions this checkout installed and tested (its own package-lock.json), with registry
 * URLs and integrity. `npm ci --offline` then installs from the local npm cache alone: a fresh
 * resolution would need every package's metadata, which the cache may not hold or may hold newer.
 */
export function consumerLock(repoLockPath: string, projectName: string, tarballs: Tarball[]): object {
  const repoLock = JSON.parse(readFileSync(repoLockPath, 'utf8')) as { packages: Record<string, LockEntry> };
  // npm marks what only development needs (dev) or what development and an optional dependency
  // need (devOptional); everything else under node_modules/ is what the package needs to run.
  // Links are this repository's workspaces, which come as tarballs here.
  const needed = Object.entries(repoLock.packages).filter(
    ([path, entry]) => path.startsWith('node_modules/') && !entry.dev && !entry.link,
  );

  const packages: Record<string, object> = {
    '': {
      name: projectName,
      dependencies: Object.fromEntries(tarballs.map((t) => [t.manifest.name, `file:${t.file}`])),
    },
  };
  for (const t of tarballs) {
    packages[`node_modules/${t.manifest.name}`] = {
      version: t.manifest.version,
      resolved: `file:${t.file}`,
      integrity: `sha512-${createHash('sha512').update(t.bytes).digest('base64')}`,
      ...(t.manifest.dependencies ? { dependencies: t.manifest.dependencies } : {}),
      ...(t.manifest.bin ? { bin: t.manifest.bin } : {}),
      ...(t.manifest.engines ? { engines: t.manifest.engines } : {}),
    };
  }
  for (const [path, { devOptional, ...entry }] of needed) {
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = {
      ...entry,
      resolved: `${REGISTRY}${name}/-/${name.split('/').pop()}-${entry.version}.tgz`,
      ...(devOptional ? { optional: true } : {}),
    };
  }
  return { name: projectName, lockfileVersion: 3, requires: true, packages };
}
