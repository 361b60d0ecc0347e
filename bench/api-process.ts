/**
 * The API as the benchmark runs it: a process of its own (so its peak RSS is the API's alone),
 * built by createApp exactly as api/main.ts builds it. Capture and reconciliation need no Temporal
 * server, so the Temporal connection is lazy and never opened. Reports its port and, when asked,
 * its peak RSS over IPC.
 */
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app';
import { createPool } from '../db/pool';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { loadPolicy } from '../lib/policy';

const config = loadConfigOrExit();
const log = createLogger('bench-api', config.LOG_LEVEL);
const pool = createPool(config.DATABASE_URL);
const temporal = new Client({ connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS }), namespace: config.TEMPORAL_NAMESPACE });
const app = createApp({ config, pool, temporal, log, policy: loadPolicy(config.POLICY_FILE) });

// Sampled as well as read from the kernel's high-water mark, so the report can show both.
let peakSampled = process.memoryUsage().rss;
setInterval(() => {
  peakSampled = Math.max(peakSampled, process.memoryUsage().rss);
}, 50).unref();

const server = app.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port });
});
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'rss')
    process.send?.({ type: 'rss', maxRss: process.resourceUsage().maxRSS * 1024, peakSampled, now: process.memoryUsage().rss });
  if (msg.type === 'stop') server.close(() => void pool.end().finally(() => process.exit(0)));
});
