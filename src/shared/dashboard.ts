import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { App } from './http.ts';

/**
 * The web dashboard (web/): plain ES modules with Preact and htm, loaded from node_modules through
 * an import map, so there is no build step to run or to go stale. The same files serve the server
 * and the device; `mode` tells the page which API it talks to.
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

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const files: Record<string, string> = {
    'app.js': join(WEB_DIR, 'app.js'),
    'style.css': join(WEB_DIR, 'style.css'),
    'preact.mjs': require.resolve('preact').replace(/preact\.js$/, 'preact.mjs'),
    'hooks.mjs': require.resolve('preact/hooks').replace(/hooks\.js$/, 'hooks.mjs'),
    'htm.mjs': require.resolve('htm').replace(/htm\.js$/, 'htm.mjs'),
  };
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const [name, path] of Object.entries(files)) {
    assets.set(name, { body: readFileSync(path), type: TYPES[name.slice(name.lastIndexOf('.'))] });
  }
  return assets;
}

const AssetParams = Type.Object({ file: Type.String() });

let cached: Map<string, { body: Buffer; type: string }> | undefined;
let indexTemplate: string | undefined;

/** `GET /` (the page) and `GET /ui/<file>` (its scripts and styles). Behind the app's auth hook. */
export function webUiRoutes(app: App, options: DashboardOptions): void {
  cached ??= loadAssets();
  indexTemplate ??= readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
  const assets = cached;
  const index = indexTemplate.replace('__MODE__', options.mode);
  app.get('/', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-frame-options', 'DENY')
      .send(index),
  );
  app.get('/ui/:file', { schema: { hide: true, params: AssetParams } }, async (request, reply) => {
    const { file } = request.params;
    const asset = assets.get(file);
    if (!asset) return reply.code(404).send({ message: `no dashboard file ${file}` });
    return reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body);
  });
}
