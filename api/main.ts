/** The API process: listens on PORT and shuts down cleanly on SIGINT/SIGTERM. */
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { connectTemporalClient } from '../lib/temporal';
import { createPool } from '../db/pool';
import { loadPolicy } from '../lib/policy';
import { createApp } from './app';
import { createApiServer } from './server';
import { startAlertDelivery } from './services/serialization-alerts';
import { deviationStarts } from './services/deviation-starts';
import { startSubscriptionDelivery } from '../epcis/subscription-delivery';
import { tokenKey } from '../epcis/subscription-tokens';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger('api', config.LOG_LEVEL);
  const pool = createPool(config.DATABASE_URL);
  const temporal = await connectTemporalClient(config);
  const policy = loadPolicy(config.POLICY_FILE);
  const ctx = { config, pool, temporal, log, policy };
  const app = createApp(ctx);
  // The process's own rounds, not the app's: an app built for a test starts no timer of its own.
  const alertDelivery = startAlertDelivery(ctx);
  // Workflow starts recorded with their holds and left behind (by a process that stopped, or while
  // Temporal was unreachable): every API process sweeps them.
  const starts = deviationStarts(ctx);
  starts.startSweep();
  // EPCIS query subscriptions: every API process delivers (they take turns per subscription).
  const subscriptionDelivery = startSubscriptionDelivery(pool, log, {
    tokenKey: config.EPCIS_SUBSCRIPTION_KEY ? tokenKey(config.EPCIS_SUBSCRIPTION_KEY) : null,
    allowedHosts: config.EPCIS_SUBSCRIPTION_ALLOWED_HOSTS,
  });
  if (config.NODE_ENV === 'production' && !config.AUDIT_HMAC_KEY) {
    log.warn(
      "AUDIT_HMAC_KEY is not set: the audit trail's body digests use a key drawn for this process and cannot be checked once it stops",
    );
  }
  const server = createApiServer(app, config).listen(config.PORT, () => {
    log.info({ port: config.PORT }, `API listening on http://localhost:${config.PORT}`);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'API shutting down');
    server.close(async () => {
      await Promise.all([alertDelivery.stop(), subscriptionDelivery.stop(), starts.stop()]);
      await Promise.allSettled([pool.end(), temporal.connection.close()]);
      log.info('API stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 50, name: 'api', msg: 'API failed to start', err: String(err) })}\n`);
  process.exit(1);
});
