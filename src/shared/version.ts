import { readFileSync } from 'node:fs';

/** The package version, read once from package.json: the one place it is written. */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
/** A monotonically increasing build number derived from the version (1.2.3 → 10203). */
export const RELEASE_ID: number = VERSION.split('.').reduce((acc, part) => acc * 100 + (parseInt(part, 10) || 0), 0);
export const USER_AGENT = `smsgate/${VERSION}`;
