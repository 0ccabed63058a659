import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { App } from './http.ts';
import { EVENT_NAMES } from '../protocol/events.ts';
import { PROCESS_STATES } from '../protocol/messages.ts';
import { ATTEMPT_OUTCOMES, DELIVERY_STATES, STORED_DELIVERY_STATES } from '../protocol/deliveries.ts';
import { INCOMING_MESSAGE_TYPES, WEBHOOK_DELIVERY_MODES } from '../protocol/inbox.ts';
import {
  LIMIT_PERIODS,
  NOTIFICATION_CHANNELS,
  PROCESSING_ORDERS,
  SIM_SELECTION_MODES,
  WRITE_ONLY_SETTINGS,
} from '../protocol/settings.ts';
import { GRANTABLE_SCOPES } from './scopes.ts';

/**
 * The web dashboard (web/): plain ES modules with Preact and htm, loaded from node_modules, so there
 * is no build step to run or to go stale. The same files serve the server and the device; `mode`
 * tells the page which API it talks to. Every script is a file (no inline script or style), so a
 * strict Content-Security-Policy holds.
 */
export interface DashboardOptions {
  mode: 'device' | 'server';
}

const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../web');
const require = createRequire(import.meta.url);

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

type Asset = { body: Buffer; type: string };

/** The words the page shows in lists and filters, from the protocol, so the page cannot drift from it. */
function vocabularyModule(): string {
  return [
    `export const EVENT_NAMES = ${JSON.stringify(EVENT_NAMES)};`,
    `export const DELIVERY_STATES = ${JSON.stringify(DELIVERY_STATES)};`,
    `export const STORED_DELIVERY_STATES = ${JSON.stringify(STORED_DELIVERY_STATES)};`,
    `export const ATTEMPT_OUTCOMES = ${JSON.stringify(ATTEMPT_OUTCOMES)};`,
    `export const MESSAGE_STATES = ${JSON.stringify(PROCESS_STATES)};`,
    `export const INCOMING_MESSAGE_TYPES = ${JSON.stringify(INCOMING_MESSAGE_TYPES)};`,
    `export const WEBHOOK_DELIVERY_MODES = ${JSON.stringify(WEBHOOK_DELIVERY_MODES)};`,
    `export const TOKEN_SCOPES = ${JSON.stringify(GRANTABLE_SCOPES)};`,
    // the settings keys whose value is one of a list (the settings page offers the list)
    `export const SETTINGS_CHOICES = ${JSON.stringify({
      'messages.limit_period': LIMIT_PERIODS,
      'messages.sim_selection_mode': SIM_SELECTION_MODES,
      'messages.processing_order': PROCESSING_ORDERS,
      'gateway.notification_channel': NOTIFICATION_CHANNELS,
    })};`,
    // the settings the page may set but never reads back
    `export const WRITE_ONLY_SETTINGS = ${JSON.stringify(WRITE_ONLY_SETTINGS)};`,
    '',
  ].join('\n');
}

/**
 * Everything under /ui/: the page's own modules (web/, by their path) and the libraries they import
 * by relative path. Preact's hooks import 'preact' by bare name, which a browser resolves only
 * through an import map (an inline script): that one specifier is pointed at ./preact.mjs instead.
 */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (name: string, body: Buffer | string) =>
    assets.set(name, { body: Buffer.from(body), type: TYPES[extname(name)] });
  for (const entry of readdirSync(WEB_DIR, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === 'index.html') continue;
    const path = join(entry.parentPath, entry.name);
    add(relative(WEB_DIR, path).split(sep).join('/'), readFileSync(path));
  }
  const moduleOf = (specifier: string, file: string) => join(dirname(require.resolve(specifier)), file);
  add('preact.mjs', readFileSync(moduleOf('preact', 'preact.mjs')));
  add(
    'hooks.mjs',
    readFileSync(moduleOf('preact/hooks', 'hooks.mjs'), 'utf8').replace(/from\s*"preact"/g, 'from"./preact.mjs"'),
  );
  add('htm.mjs', readFileSync(moduleOf('htm', 'htm.mjs')));
  add('uplot.mjs', readFileSync(moduleOf('uplot', 'uPlot.esm.js')));
  add('uplot.css', readFileSync(moduleOf('uplot', 'uPlot.min.css')));
  add('vocabulary.js', vocabularyModule());
  return assets;
}

const AssetParams = Type.Object({ '*': Type.String() });

/** A digest of every file the page loads: it names this build's files in their URLs. */
function versionOf(assets: Map<string, Asset>): string {
  const hash = createHash('sha256');
  for (const [name, asset] of [...assets].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(name).update(asset.body);
  return `v-${hash.digest('hex').slice(0, 12)}`;
}

/** `v-<digest>/` at the start of an asset path: the build it was asked for. */
const VERSION_PREFIX = /^(v-[0-9a-f]+)\//;

let cached: { assets: Map<string, Asset>; version: string } | undefined;
let indexTemplate: string | undefined;

/** `GET /` (the page) and `GET /ui/<file>` (its scripts and styles). Behind the app's auth hook. */
export function webUiRoutes(app: App, options: DashboardOptions): void {
  if (!cached) {
    const assets = loadAssets();
    cached = { assets, version: versionOf(assets) };
  }
  indexTemplate ??= readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
  const { assets, version } = cached;
  // The page asks for /ui/<version>/…, and the modules import each other by relative path, so all of
  // a build's files come from its own URLs: the browser keeps them (immutable) and a reload or the
  // next page fetches none again; a new build has new URLs.
  const base = `/ui/${version}`;
  // every module is announced up front, so the browser fetches them at once rather than level by
  // level as each import is discovered (app.js → pages → chart.js → uplot.mjs)
  const preloads = [...assets.keys()]
    .filter((name) => /\.m?js$/.test(name))
    .map((name) => `<link rel="modulepreload" href="${base}/${name}" />`)
    .join('\n    ');
  const index = indexTemplate
    .replace('__MODE__', options.mode)
    .replaceAll('__UI__', base)
    .replace('<!-- modules -->', preloads);
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(index),
  );
  app.get('/ui/*', { schema: { hide: true, params: AssetParams } }, async (request, reply) => {
    const path = request.params['*'];
    // an unversioned path, or an earlier build's (a page left open over an upgrade), gets today's
    // file, to be checked again next time
    const asked = VERSION_PREFIX.exec(path)?.[1];
    const file = asked ? path.slice(asked.length + 1) : path;
    const asset = assets.get(file);
    if (!asset) return reply.code(404).send({ message: `no dashboard file ${file}` });
    const caching = asked === version ? 'private, max-age=31536000, immutable' : 'no-cache';
    return reply.type(asset.type).header('cache-control', caching).send(asset.body);
  });
}
