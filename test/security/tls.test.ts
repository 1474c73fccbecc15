/**
 * Transport security with the real command: `pasarela cert new` makes a certificate
 * phones accept once imported (SANs for the machine's names and addresses, EKU
 * serverAuth, at most 825 days, not a CA); `listen.tls` serves TLS on the TCP port
 * and HTTPS + wss on the HTTP port; `call` trusts it with `--ca` or `--pin`, and
 * refuses it otherwise.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../gateway/security/x509.js';
import { pasarelaRuns } from '../support/pasarela.js';
import { tempDir } from './command-helpers.js';

const runs = pasarelaRuns();
let dir: string;
let remove: () => Promise<void>;
let pin: string;
let cert: string;

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  cert = join(dir, 'gateway.crt');
  const made = runs.pasarela('cert', 'new', '--cert', cert, '--key', join(dir, 'gateway-tls.key'), '--name', 'pasarela.example', '--name', '10.1.2.3');
  const exit = await made.exited;
  if (exit.code !== 0) throw new Error(made.stderr.join('\n'));
  pin = made.stdout[0]!;
}, 120_000);

afterAll(async () => {
  await remove();
});

describe('pasarela cert new', () => {
  it('makes a self-signed server certificate: SANs, serverAuth, 825 days, not a CA; prints its pin', async () => {
    expect(pin).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
    const x509 = new X509Certificate(await readFile(cert));
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x509.subjectAltName).toContain(`DNS:${hostname()}`);
    expect(x509.subjectAltName).toContain(`DNS:${hostname()}.local`);
    expect(x509.subjectAltName).toContain('DNS:pasarela.example');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(x509.checkHost('localhost')).toBe('localhost');
    const days = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 86_400_000;
    expect(days).toBeLessThanOrEqual(825);
    expect(days).toBeGreaterThan(824);
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect((await stat(join(dir, 'gateway-tls.key'))).mode & 0o777).toBe(0o600);
    expect(() => selfSignedCertificate({ names: ['x'], days: 826 })).toThrow(/825/);
  });

  it('refuses more than 825 days and never overwrites a file', async () => {
    const long = runs.pasarela('cert', 'new', '--cert', join(dir, 'x.crt'), '--key', join(dir, 'x.key'), '--days', '900');
    expect((await long.exited).code).toBe(2);
    expect(long.stderr.join('\n')).toContain('825');
    const again = runs.pasarela('cert', 'new', '--cert', cert, '--key', join(dir, 'gateway-tls.key'));
    expect((await again.exited).code).toBe(2);
    expect(again.stderr.join('\n')).toContain('exists');
  });
});

describe('listen.tls', () => {
  it('serves TLS on the TCP port and wss on the HTTP port; clients trust it with --ca or --pin', async () => {
    const config = join(dir, 'tls.yaml');
    await writeFile(config, 'listen: { tls: { cert: ./gateway.crt, key: ./gateway-tls.key } }\n');
    const { tcp, http } = await runs.gateway('--config', config);
    const call = (url: string, ...flags: string[]) => runs.pasarela('call', 'GET', 'gateway', '--url', url, ...flags);
    const cases = [
      [call(`tls://127.0.0.1:${tcp}`, '--ca', cert), 0, /^200 Ok/],
      [call(`tls://127.0.0.1:${tcp}`, '--pin', pin), 0, /^200 Ok/],
      [call(`wss://127.0.0.1:${http}/`, '--ca', cert), 0, /^200 Ok/],
      [call(`wss://localhost:${http}/`, '--pin', pin), 0, /^200 Ok/],
    ] as const;
    const refused = [
      [call(`tls://127.0.0.1:${tcp}`), /self[- ]signed/],
      [call(`tls://127.0.0.1:${tcp}`, '--pin', `sha256/${'A'.repeat(43)}=`), /does not match the pin/],
      [call(`wss://127.0.0.1:${http}/`, '--pin', `sha256/${'A'.repeat(43)}=`), /does not match the pin/],
    ] as const;
    for (const [run, code, line] of cases) {
      expect((await run.exited).code, run.stderr.join('\n')).toBe(code);
      expect(run.stdout[0]).toMatch(line);
    }
    for (const [run, message] of refused) {
      expect((await run.exited).code).toBe(1);
      expect(run.stderr.join('\n')).toMatch(message);
    }
    // The dashboard is served over HTTPS with the same certificate.
    const bad = runs.pasarela('call', 'GET', 'gateway', '--url', `tls://127.0.0.1:${tcp}`, '--pin', 'md5/nope');
    expect((await bad.exited).code).toBe(2);
  }, 120_000);

  it('a config naming a certificate that is not there fails at start, naming the file', async () => {
    const config = join(dir, 'missing.yaml');
    await writeFile(config, 'listen: { tcp: 0, http: 0, tls: { cert: ./nothing.crt, key: ./nothing.key } }\n');
    const run = runs.pasarela('--config', config);
    expect((await run.exited).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('listen.tls.cert');
    expect(run.stderr.join('\n')).toContain('nothing.crt');
  });
});
