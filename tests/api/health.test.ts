import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createPool } from '../../db/pool';
import { createLogger } from '../../lib/logger';
import { startWorker, testConfig } from '../helpers/stack';

const log = createLogger('health-test', 'silent');

describe('GET /health', () => {
  it('answers 200 when PostgreSQL and Temporal answer and a worker polls the deviation task queue', async () => {
    const config = testConfig();
    const pool = createPool(config.DATABASE_URL, 3);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    const worker = await startWorker(config, pool);
    try {
      const app = createApp({ config, pool, temporal: new Client({ connection }), log });
      // The worker's first poll reaches the server a moment after it starts.
      let res = await request(app).get('/health');
      for (let i = 0; i < 50 && res.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        res = await request(app).get('/health');
      }
      expect(res.status).toBe(200);
      expect(res.body.checks).toEqual({ postgres: { status: 'up' }, temporal: { status: 'up' }, worker: { status: 'up', pollers: 1 } });
    } finally {
      await worker.stop();
      await connection.close();
      await pool.end();
    }
  });

  it('answers 503 naming the worker when nothing polls the deviation task queue (a dead worker is visible)', async () => {
    const config = testConfig();
    const pool = createPool(config.DATABASE_URL, 1);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    try {
      const app = createApp({ config, pool, temporal: new Client({ connection }), log });
      const res = await request(app).get('/health').expect(503);
      expect(res.body.checks.postgres.status).toBe('up');
      expect(res.body.checks.temporal.status).toBe('up');
      expect(res.body.checks.worker).toMatchObject({ status: 'down', pollers: 0 });
      expect(res.body.checks.worker.error).toContain(config.TEMPORAL_TASK_QUEUE);
    } finally {
      await connection.close();
      await pool.end();
    }
  });

  it('answers 503 naming PostgreSQL when the database does not answer', async () => {
    const config = testConfig();
    const pool = createPool('postgres://postgres@127.0.0.1:1/nothing', 1);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    try {
      const app = createApp({ config, pool, temporal: new Client({ connection }), log });
      const res = await request(app).get('/health').expect(503);
      expect(res.body.checks.postgres.status).toBe('down');
      expect(res.body.checks.temporal.status).toBe('up');
    } finally {
      await connection.close();
      await pool.end();
    }
  });

  it('answers 503 naming Temporal when the server does not answer', async () => {
    const config = testConfig();
    const pool = createPool(config.DATABASE_URL, 1);
    // (no gRPC interceptors: the default one retries the failed probe in the background, and a retry
    // firing after the connection is closed would throw in the test process)
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500, interceptors: [] });
    try {
      const app = createApp({ config, pool, temporal: new Client({ connection }), log });
      const res = await request(app).get('/health').expect(503);
      expect(res.body.checks.temporal.status).toBe('down');
      expect(res.body.checks.postgres.status).toBe('up');
    } finally {
      await connection.close();
      await pool.end();
    }
  });
});
