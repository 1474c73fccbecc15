/**
 * A self-signed TLS server certificate (X.509 v3, RFC 5280) for `pasarela cert new`,
 * written in DER by hand because node:crypto reads certificates but does not make
 * them. What phones and browsers require of a server certificate they were told to
 * trust (Apple's rules for TLS since iOS 13 are the strictest): subject alternative
 * names for every name and address, extended key usage serverAuth, a validity of
 * at most 825 days, ECDSA P-256 with SHA-256. Not a CA: Firefox refuses a CA
 * certificate used as the server's own.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { publicKeyPin } from './tls.js';

export const MAX_CERT_DAYS = 825;

function length(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return Buffer.concat([Uint8Array.from([tag, ...length(body.length)]), body]);
}

const sequence = (...content: Uint8Array[]): Uint8Array => tlv(0x30, ...content);
const set = (...content: Uint8Array[]): Uint8Array => tlv(0x31, ...content);
const octets = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);
const explicit = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 | n, content);

function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

function positiveInteger(bytes: Uint8Array): Uint8Array {
  // DER INTEGER: two's complement, so a leading bit set needs a zero byte before it.
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Uint8Array.of(0), bytes]) : bytes);
}

function time(date: Date): Uint8Array {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

function name(commonName: string): Uint8Array {
  return sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(id), ...(critical ? [tlv(0x01, Uint8Array.of(0xff))] : []), octets(value));
}

function ipBytes(address: string): Uint8Array {
  if (isIP(address) === 4) return Uint8Array.from(address.split('.').map(Number));
  // Expand :: and write the 8 groups.
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = new Uint8Array(16);
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    out[2 * i] = value >> 8;
    out[2 * i + 1] = value & 0xff;
  });
  return out;
}

/** The names and addresses people reach this machine by: its host name, name.local, localhost, every address. */
export function machineNames(): string[] {
  const host = hostname();
  const names = new Set<string>([host, `${host}.local`, 'localhost', '127.0.0.1', '::1']);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      // Link-local IPv6 needs a zone, which a certificate cannot name.
      if (address.family === 'IPv6' && address.address.toLowerCase().startsWith('fe80:')) continue;
      names.add(address.address);
    }
  }
  return [...names];
}

export interface SelfSigned {
  readonly certPem: string;
  readonly keyPem: string;
  readonly pin: string;
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export function selfSignedCertificate(options: { names: readonly string[]; days?: number; now?: Date }): SelfSigned {
  const days = options.days ?? MAX_CERT_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_CERT_DAYS) throw new RangeError(`a certificate lasts 1 to ${MAX_CERT_DAYS} days (phones refuse longer), got ${days}`);
  if (options.names.length === 0) throw new RangeError('a certificate needs at least one name');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // Now minus an hour: a phone whose clock is a little behind accepts it at once.
  const notBefore = new Date(Math.floor(((options.now ?? new Date()).getTime() - 3_600_000) / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'));
  const subject = name(`pasarela ${hostname()}`);
  const altNames = sequence(...options.names.map((entry) => (isIP(entry) ? tlv(0x87, ipBytes(entry)) : tlv(0x82, Buffer.from(entry, 'ascii')))));
  // The key identifier: SHA-1 of the public key's bits (RFC 5280 §4.2.1.2, method 1).
  const keyBits = spki.subarray(spki.length - 65);
  const extensions = sequence(
    extension('2.5.29.19', true, sequence()),
    extension('2.5.29.15', true, tlv(0x03, Uint8Array.of(0x07, 0x80))),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))),
    extension('2.5.29.17', false, altNames),
    extension('2.5.29.14', false, octets(createHash('sha1').update(keyBits).digest())),
  );
  const tbs = sequence(
    explicit(0, tlv(0x02, Uint8Array.of(2))),
    positiveInteger(serial),
    ecdsaWithSha256,
    subject,
    sequence(time(notBefore), time(notAfter)),
    subject,
    spki,
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey as KeyObject);
  const der = sequence(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Uint8Array.of(0), signature])));
  const certPem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem, keyPem, pin: publicKeyPin(new X509Certificate(certPem)), names: options.names, notBefore, notAfter };
}
