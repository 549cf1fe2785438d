// ESLint flat config. Besides typescript-eslint's recommended rules it enforces the dependency
// rules of DESIGN.md (test/src/import-rules.test.ts checks the same rules by reading imports).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const noNodeIo = { group: ['node:*', 'fs', 'net', 'http', 'https', 'child_process'], message: 'pure module: no I/O imports' };
const noLogger = { group: ['pino', 'pino-*'], message: 'pure module: no logger' };
const noKube = { group: ['@kubernetes/client-node'], message: 'no Kubernetes client here' };
const noFastify = { group: ['fastify', '@fastify/*'], message: 'pure module: no fastify' };
const noApiDeep = { group: ['@agw/api/*'], message: 'import only the root export of @agw/api' };

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['api/src/**/*.ts'],
    ignores: ['api/src/gen/**', 'api/src/**/*.test.ts'],
    rules: restrict([noNodeIo, noLogger, noKube, noFastify]),
  },
  {
    files: ['proxy/src/**/*.ts'],
    rules: restrict([
      noKube,
      noApiDeep,
      { group: ['@agw/controller', '@agw/controller/*', '**/controller/src/**'], message: 'proxy never imports controller' },
    ]),
  },
  {
    files: ['controller/src/**/*.ts'],
    rules: restrict([noApiDeep, { group: ['@agw/proxy', '@agw/proxy/*', '**/proxy/src/**'], message: 'controller never imports proxy' }]),
  },
  { files: ['controller/src/translate/**/*.ts'], ignores: ['**/*.test.ts'], rules: restrict([noNodeIo, noLogger, noKube, noApiDeep]) },
  {
    files: ['proxy/src/routing/**/*.ts', 'proxy/src/auth/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([noFastify, noLogger, noKube, noApiDeep]),
  },
);
