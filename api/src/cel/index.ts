export * from './activation.js';
export * from './cel-value.js';
export * from './compile.js';
export * from './ip-cidr.js';
export * from './limits.js';
export { lastEvaluationCost } from './cost.js';
export { toJsonText } from './json.js';
