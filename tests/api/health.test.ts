import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createPool } from '../../db/pool';
import { createLogger } from '../../lib/logger';
import { testConfig } from '../helpers/stack';

const log = createLogger('health-test', 'silent');

describe('GET /health', () => {
  it('answers 200 when PostgreSQL and Temporal both answer', async () => {
    const config = testConfig();
    const pool = createPool(config.DATABASE_URL, 1);
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    try {
      const app = createApp({ config, pool, temporal: new Client({ connection }), log });
      const res = await request(app).get('/health').expect(200);
      expect(res.body.checks).toEqual({ postgres: { status: 'up' }, temporal: { status: 'up' } });
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
