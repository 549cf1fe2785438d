export * from './tokens.js';
export * from './echo-upstream.js';
export * from './http-client.js';
export * from './jwks-server.js';
