/**
 * The security plugin: reads the `security` section (the gateway's identity, its
 * owners, what anonymous dispatches may do), adds the security stage and serves
 * `["gateway", "identity"]`, `["gateway", "security"]` and pairing. Without a
 * section, a gateway on loopback runs as before, and one that listens beyond it
 * refuses unsigned dispatches except discovery and says how to set up an owner.
 */
import { isAbsolute, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Incoming } from '../jstp/engine.js';
import { Status } from '../jstp/errors.js';
import type { GatewayPlugin, PluginContext } from '../plugin.js';
import { base64url } from './bytes.js';
import { fileSequenceStore, readIdentityFile, ReplayFile } from './files.js';
import type { Identity } from './identity.js';
import { nodeSuite } from './node-suite.js';
import { normalizeCode, PairingDesk } from './pairing.js';
import { createPolicy, type Policy } from './policy.js';
import { memoryReplayStore, ReplayGuard } from './replay.js';
import { identityDocument } from './identity-document.js';
import { SealingStage } from './sealing-stage.js';
import { SecurityStage } from './security-stage.js';
import { SequenceCounter } from './sequence.js';
import { DispatchSigner } from './signer.js';

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** The plugins the security layer needs for this config: none for a loopback gateway without a section. */
export function securityPlugins(config: Config): GatewayPlugin[] {
  if (!config.security && isLoopback(config.listen.host)) return [];
  return [securityPlugin()];
}

function resolvePath(path: string, configDir: string | undefined): string {
  return isAbsolute(path) ? path : resolve(configDir ?? process.cwd(), path);
}

export function setupAdvice(host: string): string {
  return (
    `this gateway listens on ${host}, beyond this machine, and has no "security" section: ` +
    'unsigned dispatches are refused (401) except GET ["gateway"]. To set it up: ' +
    '1) where you work, run `pasarela identity new --out owner.key` (it prints your id, pas1...); ' +
    '2) here, run `pasarela identity new --out gateway.key`; ' +
    '3) add to the config: security: { identity: ./gateway.key, owners: [<your id>], anonymous: none }; ' +
    '4) give others grants with `pasarela grant <their id> --can read --identity owner.key --out their.grant`. ' +
    'Or listen on 127.0.0.1 only.'
  );
}

export function securityPlugin(): GatewayPlugin {
  return {
    name: 'security',
    async start(context: PluginContext) {
      const section = context.config.security;
      const logger = context.logger;
      if (!section) {
        const advice = setupAdvice(context.config.listen.host);
        logger.warn({ host: context.config.listen.host }, advice);
        const policy = createPolicy(nodeSuite, [], 'none');
        // Before the security stage: it relays what is sealed for others, and refuses what ends here.
        const removeSealing = context.engine.use(new SealingStage({ suite: nodeSuite, logger }));
        const stage = new SecurityStage({ suite: nodeSuite, policy, replay: new ReplayGuard(memoryReplayStore()), logger });
        const removeStage = context.engine.use(stage);
        const unbind = context.engine.bind({ method: 'GET', resource: ['gateway', 'identity'] }, () => ({ secured: false, anonymous: 'none', pairing: false, advice }));
        return () => {
          unbind();
          removeStage();
          removeSealing();
        };
      }

      const identityPath = resolvePath(section.identity, context.configDir);
      const identity = readIdentityFile(identityPath, nodeSuite);
      const replayPath = resolvePath(section.replayState ?? `${section.identity}.replay`, context.configDir);
      const replayFile = await ReplayFile.open(replayPath, logger);
      try {
        const signer = new DispatchSigner(identity, new SequenceCounter(fileSequenceStore(identityPath)));
        const policy = createPolicy(nodeSuite, section.owners, section.anonymous);
        // Inbound it opens before the security stage verifies; outbound it seals what that one signed.
        const sealing = new SealingStage({ suite: nodeSuite, identity, sealDeliveries: true, relay: section.relaySealed, logger });
        const removeSealing = context.engine.use(sealing);
        const stage = new SecurityStage({ suite: nodeSuite, policy, replay: new ReplayGuard(replayFile), signer, logger });
        const removeStage = context.engine.use(stage);
        const unbinders = bindResources(context, identity, policy, stage, sealing);
        if (section.owners.length === 0) logger.warn('security has no owners: no grant can be verified, so only what `anonymous` allows works');
        logger.info({ id: identity.id, owners: section.owners.length, anonymous: section.anonymous }, 'security on: dispatches are verified and answers signed');
        return async () => {
          for (const unbind of unbinders) unbind();
          removeStage();
          removeSealing();
          await replayFile.close();
        };
      } catch (error) {
        await replayFile.close();
        throw error;
      }
    },
  };
}

function bindResources(context: PluginContext, identity: Identity, policy: Policy, stage: SecurityStage, sealing: SealingStage): (() => void)[] {
  const engine = context.engine;
  const owners = new Set(policy.owners.keys());
  const desk = new PairingDesk(nodeSuite, () => owners);
  const document = {
    secured: true,
    id: identity.id,
    kid: identity.kidHex,
    keys: { ed25519: base64url(identity.signingKey), x25519: base64url(identity.agreementKey) },
    // The same keys, signed by this identity: what a client verifies and pins before sealing to it.
    document: identityDocument(identity),
    anonymous: policy.anonymousLevel,
    pairing: owners.size > 0,
  };
  return [
    // The answer is signed by this key: check it against the id before trusting it.
    engine.bind({ method: 'GET', resource: ['gateway', 'identity'] }, () => document),
    engine.bind({ method: 'GET', resource: ['gateway', 'security'] }, () => ({
      ...stage.stats(),
      sealing: sealing.stats(),
      owners: [...owners],
      anonymous: policy.anonymousLevel,
    })),
    engine.bind({ method: 'POST', resource: ['gateway', 'pairing'] }, (incoming) => {
      const key = (incoming.body as { key?: unknown } | undefined)?.key;
      if (typeof key !== 'string') return answer(incoming, Status.BadDispatch, 'the body must be { "key": "pas1..." }');
      if (owners.size === 0) return answer(incoming, Status.NotImplemented, 'this gateway has no owner to pair with');
      try {
        return desk.request(key);
      } catch (error) {
        return answer(incoming, error instanceof RangeError ? Status.InternalError : Status.BadDispatch, (error as Error).message);
      }
    }),
    engine.bind({ method: 'GET', resource: ['gateway', 'pairing', ':code'] }, (incoming) => {
      const view = desk.lookup(String(incoming.params.code));
      return view ?? answer(incoming, Status.NotFound, `no pairing is waiting under code ${String(incoming.params.code)}`);
    }),
    engine.bind({ method: 'PUT', resource: ['gateway', 'pairing', ':code'] }, (incoming) => {
      const grant = (incoming.body as { grant?: unknown } | undefined)?.grant;
      if (typeof grant !== 'string') return answer(incoming, Status.BadDispatch, 'the body must be { "grant": "<chain>" }');
      const code = normalizeCode(String(incoming.params.code));
      if (!desk.lookup(code)) return answer(incoming, Status.NotFound, `no pairing is waiting under code ${String(incoming.params.code)}`);
      try {
        const view = desk.complete(code, grant);
        context.logger.info({ key: view.key }, 'page paired');
        return { key: view.key, state: view.state };
      } catch (error) {
        return answer(incoming, Status.BadDispatch, (error as Error).message);
      }
    }),
  ];
}

function answer(incoming: Incoming, status: number, reason: string): undefined {
  incoming.answer(status, { reason });
  return undefined;
}
