export { buildAdminServer, buildGatewayServer, type GatewayServerOptions } from './server.js';
export { ConfigStore, waitForNextConfig, type ConfigEvent } from './config/store.js';
export { compileConfig, type RuntimeConfig } from './config/compile.js';
export { applyConfig } from './config/apply.js';
export { loadConfigFile, watchConfigFile } from './config/file-source.js';
export { ProxyMetrics } from './metrics.js';
export { JwtErrorCode } from './auth/jwt-errors.js';
export { redactConfig } from './plugins/admin.js';
export { VerifiedTokenCache } from './auth/verified-token-cache.js';
export { ControllerSource, PLAINTEXT_KEY_REFUSAL, keyMaterialRefusal, type ControllerSourceOptions } from './config/controller-source.js';
export { ListenerPorts, type ListenerPortsOptions } from './listeners.js';
export { authenticate } from './auth/jwt-authenticate.js';
export { compileJwtVerifier } from './auth/jwt-verifier.js';
export { rawHeaderSource } from './auth/token-location.js';
export { parsePortMap } from './port-map.js';
export {
  canonicalPath,
  canonicalTarget,
  TargetErrorCode,
  TARGET_ERROR_BODY,
  DEFAULT_PATH_RULES,
  type PathRules,
} from './routing/request-target.js';
export { compileRouteTable, findVirtualHost } from './routing/route-table.js';
export { hostnameMatches } from './routing/hostname.js';
