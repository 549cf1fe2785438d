export * from './translate/index.js';
export * from './resources/parse-objects.js';
export * from './jwks/index.js';
