#!/usr/bin/env node
/** The controller binary: the only place that builds clients, servers and timers from settings. */
import { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { createAdminServer } from './admin-server.js';
import { Controller } from './controller.js';
import { KubeRest } from './kube/kube-rest.js';
import { allowAll, tokenReviewAuthenticator } from './push/token-review.js';
import { USAGE, readSettings } from './settings.js';

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const s = readSettings(process.argv.slice(2), process.env);
  const logger = pino({ level: s.logLevel, base: { component: 'controller' } });
  const kc = new KubeConfig();
  if (s.kubeconfig) kc.loadFromFile(s.kubeconfig);
  else kc.loadFromDefault();
  const rest = new KubeRest(kc);
  const controller = new Controller({
    kc,
    rest,
    logger,
    namespace: s.namespace,
    controllerName: s.controllerName,
    className: s.className,
    identity: s.identity,
    authenticate: s.proxyAuth === 'none' ? allowAll : tokenReviewAuthenticator(rest, Date.now),
    leaderElection: s.leaderElection,
    now: Date.now,
    jwksRefetchMinIntervalMs: s.jwksRefetchMinIntervalMs,
    allowPlaintextKeyPush: s.allowPlaintextKeyPush,
    ...(s.proxyImage !== undefined
      ? {
          deployer: {
            image: s.proxyImage,
            controllerAddress: s.proxyControllerAddress,
            serviceType: s.proxyServiceType,
            resources: s.proxyResources,
            adminPort: 15000,
            ...(s.proxyControllerCaFile !== undefined ? { controllerCaFile: s.proxyControllerCaFile } : {}),
          },
        }
      : {}),
  });
  const tls =
    s.xdsTlsCertFile !== undefined && s.xdsTlsKeyFile !== undefined
      ? { certChain: readFileSync(s.xdsTlsCertFile), privateKey: readFileSync(s.xdsTlsKeyFile) }
      : undefined;
  const xdsPort = await controller.configServer.listen(s.xdsHost, s.xdsPort, tls);
  const admin = createAdminServer({ ready: () => controller.ready, registry: controller.metrics.registry });
  await new Promise<void>((r) => admin.listen(s.adminPort, s.adminHost, r));
  logger.info(
    {
      xdsPort,
      xdsTls: tls !== undefined,
      allowPlaintextKeyPush: s.allowPlaintextKeyPush,
      adminPort: (admin.address() as { port: number }).port,
      namespace: s.namespace,
      controllerName: s.controllerName,
    },
    'controller listening',
  );
  if (s.allowPlaintextKeyPush && tls === undefined)
    logger.warn(
      {},
      "HTTPS listeners' private keys are pushed over a plaintext config stream (--allow-plaintext-key-push): development only",
    );
  await controller.start();
  const stop = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    admin.close();
    await controller.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`controller: ${(err as Error).message}\n`);
  process.exit(1);
});
