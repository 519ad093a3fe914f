/**
 * The admin page's files: its own (lib/admin/static/, plain HTML, CSS and ES modules: no build
 * step) and uPlot's, read from the installed package by path. Each is read once and kept in memory
 * (a handful of small files): answered with its content type, an ETag, and caching that suits it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from '../core/errors.js';

/** From dist/lib/admin/ (or lib/admin/ when run from source) to the repository's lib/admin/static/. */
export const STATIC_DIR = fileURLToPath(new URL(import.meta.url.endsWith('/dist/lib/admin/static.js') ? '../../../lib/admin/static/' : './static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** uPlot's files, served under /admin/vendor/. */
const VENDOR = ['uPlot.iife.min.js', 'uPlot.min.css'];

interface File {
  body: Buffer;
  type: string;
  etag: string;
}

const load = (path: string): File => {
  const body = readFileSync(path);
  return { body, type: TYPES[extname(path)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
};

export class StaticFiles {
  private own: Map<string, File> | undefined;
  private vendor: Map<string, File> | undefined;

  /** The page's own files: revalidated on every load (ETag), so a new version shows at once. */
  serveOwn(req: IncomingMessage, res: ServerResponse, name: string): void {
    this.own ??= new Map(readdirSync(STATIC_DIR).filter((f) => TYPES[extname(f)] !== undefined).map((f) => [f, load(join(STATIC_DIR, f))]));
    send(req, res, this.own.get(name), 'no-cache');
  }

  /** uPlot's: the version installed with the service; kept by the browser for a day. */
  serveVendor(req: IncomingMessage, res: ServerResponse, name: string): void {
    if (!this.vendor) {
      const require = createRequire(import.meta.url);
      this.vendor = new Map(VENDOR.map((f) => [f, load(require.resolve(`uplot/dist/${f}`))]));
    }
    send(req, res, this.vendor.get(name), 'private, max-age=86400');
  }
}

function send(req: IncomingMessage, res: ServerResponse, file: File | undefined, cacheControl: string): void {
  if (!file) throw new ServiceError('NOT_FOUND', 'no such file of the admin page');
  const headers = { 'content-type': file.type, etag: file.etag, 'cache-control': cacheControl };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': file.body.length });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}
