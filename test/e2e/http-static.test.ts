/**
 * The static handler that serves the dashboard: content types, caching (hashed
 * files immutable, the rest revalidated by ETag), precompressed gzip, HEAD, methods,
 * and requests that try to leave the root. Raw HTTP requests on a real socket, so
 * paths reach the server exactly as written (no client-side normalization).
 */
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticHandler, requestedPath } from '../../gateway/http-static.js';

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

let dir: string;
let root: string;
let server: http.Server;
let port: number;

function request(path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const SCRIPT = 'console.log("dashboard");\n'.repeat(20);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pasarela-static-'));
  root = join(dir, 'dist');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><title>ok</title>');
  await writeFile(join(root, 'main-AB12CD34.js'), SCRIPT);
  await writeFile(join(root, 'main-AB12CD34.js.gz'), gzipSync(SCRIPT));
  await writeFile(join(root, 'styles-ZZ99YY88.css'), 'body{}');
  // A .gz older than its source is stale and must not be served.
  await writeFile(join(root, 'styles-ZZ99YY88.css.gz'), gzipSync('stale{}'));
  const past = new Date(Date.now() - 60_000);
  await utimes(join(root, 'styles-ZZ99YY88.css.gz'), past, past);
  await writeFile(join(root, 'sub', 'index.html'), '<p>sub</p>');
  await writeFile(join(root, '.secret'), 'no');
  await writeFile(join(dir, 'outside.txt'), 'outside the root');
  await symlink(join(dir, 'outside.txt'), join(root, 'link-out.txt'));
  server = http.createServer(createStaticHandler({ root }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('static handler', () => {
  it('serves index.html at / with revalidation, and 304 for a matching ETag', async () => {
    const first = await request('/');
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.headers['x-content-type-options']).toBe('nosniff');
    expect(first.headers['content-security-policy']).toContain("default-src 'self'");
    expect(first.body.toString()).toContain('<title>ok</title>');
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await request('/?reload=1', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await request('/sub/')).body.toString()).toBe('<p>sub</p>');
  });

  it('caches hashed files for a year and sends the gzip copy when accepted', async () => {
    const plain = await request('/main-AB12CD34.js');
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);

    const zipped = await request('/main-AB12CD34.js', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
    expect(gunzipSync(zipped.body).toString()).toBe(SCRIPT);

    const stale = await request('/styles-ZZ99YY88.css', { headers: { 'accept-encoding': 'gzip' } });
    expect(stale.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(stale.headers['content-encoding']).toBeUndefined();
    expect(stale.body.toString()).toBe('body{}');
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    const head = await request('/main-AB12CD34.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(SCRIPT));
    expect(head.body.length).toBe(0);
    const post = await request('/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/../outside.txt',
    '/%2e%2e/outside.txt',
    '/..%2foutside.txt',
    '/sub/../../outside.txt',
    '/%2e%2e%5coutside.txt',
    '/.secret',
    '/sub/%2esecret',
    '/link-out.txt',
    '/index.html%00.js',
    '/%E0%A4%A',
    '/missing.js',
    '/sub',
  ])('404 for %s', async (path) => {
    const response = await request(path);
    expect(response.status).toBe(404);
    expect(response.body.toString()).not.toContain('outside the root');
  });

  it('maps request paths inside the root only', () => {
    expect(requestedPath('/', 'index.html')).toBe('index.html');
    expect(requestedPath('/a/b.js?x=1#y', 'index.html')).toBe('a/b.js');
    expect(requestedPath('//a//./b.js', 'index.html')).toBe('a/b.js');
    expect(requestedPath('/a/../b.js', 'index.html')).toBeUndefined();
    expect(requestedPath('/a\\b', 'index.html')).toBeUndefined();
    expect(requestedPath('a.js', 'index.html')).toBeUndefined();
  });

  it('503 while the page is not built', async () => {
    const handler = createStaticHandler({ root: join(dir, 'not-built') });
    const other = http.createServer(handler);
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const response = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: (other.address() as AddressInfo).port, path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      expect(response).toBe(503);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});
