/**
 * The `pasarela` package: start a gateway from a config, run your own drivers in it,
 * or use the JSTP engine on its own. The client is `pasarela/client` (it runs in
 * browsers too), the driver SDK `pasarela/driver`, identities and grants
 * `pasarela/security`. Importing this entry starts
 * nothing and loads no driver.
 */
export { packageVersion, startGateway, type Gateway, type GatewayOptions } from './gateway.js';
export type { GatewayPlugin, GatewayPorts, HttpHandler, HttpRoutes, PluginContext, PluginStop } from './plugin.js';
export { driverPlugin, preparedDriverPlugin } from './plugins/driver-plugin.js';
export { DeviceRegistry } from './devices/registry.js';
export {
  applyOverrides,
  ConfigError,
  defaultConfig,
  loadConfig,
  parseConfig,
  type Config,
  type ConfigIssue,
  type ConfigOverrides,
  type DeviceConfig,
  type LogLevel,
} from './config.js';
export {
  AnswerError,
  Engine,
  Reply,
  type Answer,
  type EndpointInput,
  type EngineOptions,
  type EngineStats,
  type AnswerVerdict,
  type DropVerdict,
  type Forwarder,
  type Handler,
  type Incoming,
  type Peer,
  type PeerEndpoint,
  type PeerRequestOptions,
  type RequestOptions,
  type Stage,
  type Verdict,
} from './jstp/engine.js';
export { cborCodec } from './jstp/codec/cbor-link.js';
export type { DispatchCodec, LinkCodec, LinkCodecOptions, LinkCodecStats } from './jstp/codec/codec.js';
export type { Channel } from './jstp/channel.js';
export {
  createAnswer,
  createDispatch,
  createSubscription,
  METHODS,
  PROTOCOL_VERSION,
  REGULAR_METHODS,
  serializeDispatch,
  SUBSCRIPTION_METHODS,
  validateDispatch,
  type Dispatch,
  type Endpoint,
  type EndpointMethod,
  type Hop,
  type Method,
  type Mode,
  type RegularMethod,
  type ResourceElement,
  type SubscriptionMethod,
  type Token,
  type ValidationResult,
} from './jstp/dispatch.js';
export { ErrorCode, errors, PasarelaError, Status, statusText, type ErrorCodeValue, type StatusCode } from './jstp/errors.js';
export { silentLogger, type Logger, type LogFn } from './jstp/logger.js';
export { Backoff, type BackoffOptions } from './jstp/backoff.js';
// Security (docs/spec/security.md): the plugin, Node's crypto, and the files; the rest is `pasarela/security`.
export { securityPlugin, securityPlugins } from './security/plugin.js';
export { nodeSuite } from './security/node-suite.js';
export { fileSequenceStore, readGrantFile, readIdentityFile, writeGrantFile, writeIdentityFile } from './security/files.js';
export { SecurityStage, type SecurityStageOptions } from './security/security-stage.js';
export { storePath, uplinkPlugin, uplinkPlugins, type UplinkPluginOptions } from './uplinks/uplink-plugin.js';
export type { UplinkStatus } from './uplinks/uplink.js';
export type { UplinkDialer, UplinkDialOptions, UplinkLink } from './uplinks/dialers.js';
export { bindReceipts, DedupMemory, dedupPlugin, dedupStage, type DedupOptions } from './uplinks/dedup.js';
export { Outbox, type OutboxOptions } from './uplinks/outbox.js';
export type { FillLevel, OutboxQueue, QueueBounds, QueueStats, StoredEntry, StoredId, WhenFull } from './uplinks/queue.js';
export { saturationPlugin, saturationPlugins } from './saturation/saturation-plugin.js';
export type { Level, LevelChange, LoadFigures, Resource, SaturationReport } from './saturation/report.js';
export { readLoad } from './saturation/report.js';
export { clusterPlugin, clusterPlugins } from './cluster/cluster-plugin.js';
export { BalancePolicy, type BalancingOptions, type Candidate, type PolicyName } from './cluster/balance-policy.js';
export type { ClusterChange, ClusterView, DrainRefusal, MemberInfo, MemberView } from './cluster/protocol.js';
