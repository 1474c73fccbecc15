/**
 * Sealing the page's commands to the gateway that serves it (docs/spec/security.md,
 * "Sealed dispatches"): on every connection it reads the gateway's identity document
 * (unsealed: discovery) and, once that verifies, seals its requests to it. The page
 * presents its own document, so the gateway seals the PATCHes and events it sends
 * here, and the stage opens them. @noble/curves and @noble/ciphers do the work: a page
 * served over http from a LAN address has no WebCrypto.
 *
 * No pin is kept: the page itself comes from that gateway, so whoever could replace
 * the gateway's key could replace the page too.
 */
import type { Client } from '../../gateway/client.js';
import { verifyIdentityDocument } from '../../gateway/security/identity-document.js';
import { nobleSuite } from '../../gateway/security/noble-suite.js';
import type { SealingStage } from '../../gateway/security/sealing-stage.js';

export function sealToGateway(client: Client, sealing: SealingStage): void {
  const learn = async (): Promise<void> => {
    // The document is fetched in the clear: sealed to a key the gateway no longer has, it would not open.
    sealing.setRecipient(undefined);
    const [answer] = await client.get(['gateway', 'identity']).all().catch(() => []);
    const document = (answer?.body as { document?: unknown } | undefined)?.document;
    if (typeof document !== 'string') return;
    try {
      sealing.setRecipient(verifyIdentityDocument(nobleSuite, document));
      window.document.body.dataset.sealed = 'yes';
    } catch (error) {
      console.warn('pasarela: the gateway\'s identity document does not verify; commands go unsealed', error);
      window.document.body.dataset.sealed = 'no';
    }
  };
  client.on('state', ({ state }) => {
    if (state === 'open') void learn();
  });
  if (client.state === 'open') void learn();
}
