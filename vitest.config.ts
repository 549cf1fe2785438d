import { defineConfig } from 'vitest/config';

// Two projects: `unit` (in-process, real HTTP on 127.0.0.1:0, no cluster) and `e2e` (real
// kube-apiserver + etcd + Keycloak from scripts/infra; see e2e/README.md).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,proxy,controller,cli,test}/src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/src/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['e2e/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
