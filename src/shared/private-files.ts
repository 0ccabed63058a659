import { chmodSync, closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';

/**
 * Data directories and the files in them hold secrets (the private token, the device's own token,
 * signing keys, keys of certificates): only their owner may read them, whatever the umask.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Make a directory (and its missing parents) readable by its owner only. A directory that already
 * exists keeps its mode: it may be one the user made for other things too (`--data-dir .`); the
 * files smsgate keeps in it are private anyway.
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Write a file readable by its owner only; an existing file is narrowed to that as well. */
export function writePrivateFile(path: string, data: string): void {
  writeFileSync(path, data, { mode: PRIVATE_FILE_MODE });
  chmodSync(path, PRIVATE_FILE_MODE);
}

/**
 * Before SQLite opens `file`: create it empty (a valid empty database) readable by its owner only,
 * or narrow an existing one and its `-wal` and `-shm` files to that. SQLite gives the WAL and
 * shared-memory files it creates later the database file's mode, so they are private too.
 */
export function preparePrivateSqliteFile(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(path, PRIVATE_FILE_MODE);
    } catch (error) {
      // absent, or owned by someone else (who chose its mode): nothing to narrow
      const code = (error as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw error;
    }
  }
}
