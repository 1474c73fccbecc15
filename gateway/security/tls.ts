/**
 * TLS for the transports (Node only): the server's certificate and key from
 * `listen.tls`, and a client's trust: a CA file (`--ca`) or a pin of the server's
 * public key (`--pin sha256/BASE64`: SHA-256 of its SubjectPublicKeyInfo, in the
 * form HPKP and curl use), checked in constant time.
 */
import { createHash, timingSafeEqual, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { errors } from '../jstp/errors.js';

/** What a server needs: PEM text. */
export interface ServerTls {
  readonly cert: string;
  readonly key: string;
}

/** What a client trusts; with neither, the system's CAs. */
export interface ClientTls {
  /** PEM of the CA (or of the self-signed certificate itself). */
  readonly ca?: string;
  /** `sha256/BASE64` of the server's public key: any certificate with that key is accepted. */
  readonly pin?: string;
}

export function loadServerTls(section: { cert: string; key: string }, configDir: string | undefined): ServerTls {
  const read = (what: string, path: string): string => {
    const full = isAbsolute(path) ? path : resolve(configDir ?? process.cwd(), path);
    try {
      return readFileSync(full, 'utf8');
    } catch (error) {
      throw errors.config(`listen.tls.${what}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  };
  return { cert: read('cert', section.cert), key: read('key', section.key) };
}

/** The pin of a certificate's public key: `sha256/` + base64 of the SHA-256 of its SPKI DER. */
export function publicKeyPin(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`;
}

const PIN = /^sha256\/([A-Za-z0-9+/]{43}=)$/;

/** Throws a usage-grade message for a malformed pin. */
export function checkPinSyntax(pin: string): void {
  if (!PIN.test(pin)) throw errors.config(`a pin is sha256/ and the base64 of 32 bytes (as \`pasarela cert new\` prints it), got "${pin}"`);
}

/** True when the certificate's key is the pinned one. */
export function matchesPin(certificate: X509Certificate | undefined, pin: string): boolean {
  if (!certificate) return false;
  const expected = Buffer.from(PIN.exec(pin)?.[1] ?? '', 'base64');
  const actual = Buffer.from(publicKeyPin(certificate).slice('sha256/'.length), 'base64');
  return expected.length === 32 && timingSafeEqual(expected, actual);
}

/**
 * The options of tls.connect (or of `ws` over https) for a client's trust. With a
 * pin the certificate chain is not checked (a self-signed certificate has none): the
 * pin is checked once the handshake is done, by `verifyPeer`.
 */
export function clientTlsOptions(trust: ClientTls | undefined, servername: string | undefined): Record<string, unknown> {
  if (trust?.pin !== undefined) checkPinSyntax(trust.pin);
  const options: Record<string, unknown> = {};
  if (servername !== undefined && !/^[\d.]+$|:/.test(servername)) options.servername = servername;
  if (trust?.ca !== undefined) options.ca = trust.ca;
  if (trust?.pin !== undefined) {
    options.rejectUnauthorized = false;
    options.checkServerIdentity = () => undefined;
  }
  return options;
}

/** Why a connected peer is not the one trusted, or undefined when it is. */
export function verifyPeer(certificate: X509Certificate | undefined, trust: ClientTls | undefined): string | undefined {
  if (trust?.pin === undefined) return undefined;
  return matchesPin(certificate, trust.pin) ? undefined : `the server's key does not match the pin ${trust.pin}${certificate ? ` (it is ${publicKeyPin(certificate)})` : ''}`;
}
