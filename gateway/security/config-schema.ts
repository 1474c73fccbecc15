/**
 * The `security:` section of the config (docs/spec/security.md, "Configuration"),
 * and `listen.tls`. Paths are relative to the config file's folder.
 */
import { z } from 'zod';
import { parseIdentityId } from './identity.js';
import { ANONYMOUS_LEVELS } from './policy.js';

export const securitySectionSchema = z.strictObject({
  /** The gateway's own identity file (made by `pasarela identity new`, mode 0600). */
  identity: z.string().min(1),
  /** Identity ids (`pas1...`) at the root of every grant; each may do everything. */
  owners: z.array(z.string().refine((id) => parseIdentityId(id).ok, 'an identity id (pas1... as `pasarela identity new` prints it)')).default([]),
  /** What unsigned dispatches may do: none (only discovery), read (the read preset), full. */
  anonymous: z.enum(ANONYMOUS_LEVELS).default('none'),
  /** Where the replay ceilings persist; default: the identity file's path + `.replay`. */
  replayState: z.string().min(1).optional(),
  /** Pass sealed dispatches on toward their `host` hops (the forwarding rules still apply); false refuses them. */
  relaySealed: z.boolean().default(true),
});

export const tlsSectionSchema = z.strictObject({
  /** PEM certificate (chain) file, e.g. from `pasarela cert new`. */
  cert: z.string().min(1),
  /** PEM private key file of the certificate. */
  key: z.string().min(1),
});

export type SecuritySection = z.output<typeof securitySectionSchema>;
export type TlsSection = z.output<typeof tlsSectionSchema>;
