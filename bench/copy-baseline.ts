import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Pool } from '../db/pool';

/** The capture benchmarks' baseline (npm run bench, npm run bench:xml): PostgreSQL's own COPY of the rows capture wrote. */

/** Row counts of every user table, to find the tables capture wrote. */
export async function rowCounts(pool: Pool): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname`,
  );
  const counts = new Map<string, number>();
  for (const { relname } of rows) {
    const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${relname}"`);
    counts.set(relname, Number(r.rows[0]?.n ?? 0));
  }
  return counts;
}

/**
 * The capture baseline: every row capture added, dumped to files (untimed), then loaded with plain
 * COPY into empty copies of the same tables with the same indexes and constraints (timed).
 */
export async function copyBaseline(databaseUrl: string, tables: string[], workDir: string): Promise<{ seconds: number; rows: number }> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const files: Array<[string, string]> = [];
    for (const t of tables) {
      const file = path.join(workDir, `${t}.copy`);
      await pipeline(client.query(copyTo(`COPY "${t}" TO STDOUT`)), createWriteStream(file));
      await client.query(`DROP TABLE IF EXISTS "bench_copy_${t}"`);
      await client.query(`CREATE TABLE "bench_copy_${t}" (LIKE "${t}" INCLUDING ALL)`);
      files.push([t, file]);
    }
    await client.query('CHECKPOINT');
    const started = performance.now();
    let rows = 0;
    for (const [t, file] of files) {
      const stream = client.query(copyFrom(`COPY "bench_copy_${t}" FROM STDIN`));
      await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), stream);
      rows += Number(stream.rowCount ?? 0);
    }
    const seconds = (performance.now() - started) / 1000;
    for (const [t, file] of files) {
      await client.query(`DROP TABLE "bench_copy_${t}"`);
      rmSync(file, { force: true });
    }
    return { seconds, rows };
  } finally {
    await client.end();
  }
}
