/**
 * A registry on loopback that knows one package: the packed pasarela tarball, with
 * the metadata the npm registry gives a package that ships npm-shrinkwrap.json
 * (`_hasShrinkwrap`), which is what makes npm install its dependencies from that
 * file. Everything else answers 404 and is recorded, so a test can tell what npm
 * tried to fetch. Its URL has a path of its own each time, so npm's cache never
 * serves metadata of an earlier run for it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NpmRegistry {
  /** The registry URL to give npm (`--registry`). */
  readonly url: string;
  /** Paths (below the URL) asked for and not served. */
  readonly missed: string[];
  /** Paths served. */
  readonly served: string[];
  close(): Promise<void>;
}

export async function startNpmRegistry(tarballPath: string, manifest: { name: string; version: string } & Record<string, unknown>): Promise<NpmRegistry> {
  const tarball = await readFile(tarballPath);
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const base = `/${randomUUID()}`;
  const tarballPathname = `${base}/${manifest.name}/-/${manifest.name}-${manifest.version}.tgz`;
  const missed: string[] = [];
  const served: string[] = [];
  let origin = '';

  const server = http.createServer((request, response) => {
    const path = request.url ?? '/';
    if (path === `${base}/${manifest.name}`) {
      served.push(path.slice(base.length));
      const version = { ...manifest, _hasShrinkwrap: true, dist: { tarball: `${origin}${tarballPathname}`, integrity, shasum } };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } }));
      return;
    }
    if (path === tarballPathname) {
      served.push(path.slice(base.length));
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': tarball.length });
      response.end(tarball);
      return;
    }
    missed.push(path.startsWith(base) ? path.slice(base.length) : path);
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${base}/`,
    missed,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
