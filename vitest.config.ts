import { defineConfig } from 'vitest/config';

// Three projects: `unit` (in-process, real HTTP on 127.0.0.1:0, no cluster), `e2e` (real
// kube-apiserver + etcd + Keycloak from scripts/infra; see e2e/README.md) and `soak` (issue 19).
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
          exclude: ['e2e/src/soak/**'],
          environment: 'node',
          globalSetup: ['e2e/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // The soak's parts and its 3-minute form (issue 19): its own control plane and Keycloak,
        // after the e2e project, so its faults (API server restart, leader kill) disturb no suite.
        test: {
          name: 'soak',
          include: ['e2e/src/soak/**/*.test.ts'],
          environment: 'node',
          testTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
