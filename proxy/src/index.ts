export { buildAdminServer, buildGatewayServer, type GatewayServerOptions } from './server.js';
export { ConfigStore, waitForNextConfig, type ConfigEvent } from './config/store.js';
export { compileConfig, type RuntimeConfig } from './config/compile.js';
export { applyConfig } from './config/apply.js';
export { loadConfigFile, watchConfigFile } from './config/file-source.js';
export { ProxyMetrics } from './metrics.js';
export { JwtErrorCode } from './auth/jwt-errors.js';
export { redactConfig } from './plugins/admin.js';
export { VerifiedTokenCache } from './auth/verified-token-cache.js';
