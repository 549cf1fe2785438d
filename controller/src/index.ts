export * from './translate/index.js';
export * from './resources/parse-objects.js';
export * from './jwks/index.js';
export * from './backoff.js';
export * from './status/merge-conditions.js';
export * from './push/config-version.js';
export { Controller, type ControllerOptions } from './controller.js';
export { ConfigServer } from './push/config-server.js';
export { KubeRest, KubeError } from './kube/kube-rest.js';
