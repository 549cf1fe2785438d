export * from './fetch-jwks.js';
export * from './jwks-cache.js';
export * from './jwks-document.js';
export * from './ssrf-guard.js';
export * from './key-store.js';
