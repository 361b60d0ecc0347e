import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import request from 'supertest';
import type { Pool } from '../../db/pool';
import { DEFAULT_CONFIG } from '../../lib/generator/plan';
import { generateBatch } from '../../lib/generator/write';
import { getLineMonitorStatusQuery, type LineMonitorStatus } from '../../workflows/line-monitor';
import { lineMonitorWorkflowId } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';

export const uniqueLine = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex').toUpperCase()}`;

export interface CapturedBatch {
  lot: string;
  gtin: string;
  batchId: string;
}

/**
 * A small generated packaging run (lib/generator) on `line`, sent through the API as the line system
 * sends it: master data, EPCIS documents, the repository report. Only the run's own batch is master
 * data of the line (the generator's companion lots stay empty). Each run has a seed of its own, so
 * its serials and GTIN are its own.
 */
export async function captureBatch(
  app: Express,
  pool: Pool,
  apiKey: string,
  line: string,
  opts: { duplicates?: number; missingReports?: number; units?: number } = {},
): Promise<CapturedBatch> {
  const lot = `M${randomBytes(5).toString('hex').toUpperCase()}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'monitoring-batch-'));
  try {
    const manifest = await generateBatch(
      {
        ...DEFAULT_CONFIG,
        seed: randomBytes(4).readUInt32BE() >>> 1,
        units: opts.units ?? 200,
        unitsPerCase: 20,
        casesPerPallet: 5,
        lot,
        line,
        eventsPerDocument: 500,
        startTime: new Date().toISOString(),
        plants: {
          ...(opts.duplicates ? { duplicate_serial: opts.duplicates } : {}),
          ...(opts.missingReports ? { missing_report: opts.missingReports } : {}),
        },
      },
      dir,
    );
    const post = async (url: string, body: unknown, ok: number[], type = 'application/json') => {
      const res = await request(app)
        .post(url)
        .set('X-API-Key', apiKey)
        .set('Content-Type', type)
        .send(body as object);
      if (!ok.includes(res.status)) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
    };
    for (const p of manifest.products) await post('/products', p, [200, 201]);
    await post('/batches', manifest.batches[0], [201]);
    for (const doc of manifest.files.documents) await post('/epcis/capture', readFileSync(path.join(dir, doc), 'utf8'), [202]);
    for (const rep of manifest.files.repositoryReports) {
      const body = JSON.parse(readFileSync(path.join(dir, rep), 'utf8')) as { lot: string };
      if (body.lot === lot) await post(`/batches/${encodeURIComponent(lot)}/repository-reports`, body, [201]);
    }
    const gtin = manifest.batches[0].gtin;
    const { rows } = await pool.query<{ id: string }>('SELECT id::text FROM batches WHERE gtin = $1 AND lot = $2', [gtin, lot]);
    return { lot, gtin, batchId: rows[0]!.id };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const monitorStatus = (temporal: Client, line: string): Promise<LineMonitorStatus> =>
  temporal.workflow.getHandle(lineMonitorWorkflowId(line)).query(getLineMonitorStatusQuery);

/** Waits until the line's monitor has judged at least `points` points, and has nothing left in its queue. */
export function judged(temporal: Client, line: string, points: number, timeoutMs = 60_000): Promise<LineMonitorStatus> {
  return eventually(
    async () => {
      const status = await monitorStatus(temporal, line);
      return status.evaluated >= points && status.pending.length === 0 ? status : undefined;
    },
    timeoutMs,
    200,
  );
}

export interface ClaimRow {
  batch_id: string;
  signal: string;
  disposition: 'opened' | 'linked';
  deviation_id: string;
  unreachable: string | null;
  delivered_at: Date | null;
  evidence: { summary: string; record: Record<string, unknown> };
}

export async function claimsOf(pool: Pool, batchId: string): Promise<ClaimRow[]> {
  const { rows } = await pool.query<ClaimRow>(
    `SELECT batch_id::text, signal, disposition, deviation_id, unreachable, delivered_at, evidence
       FROM monitoring_signals WHERE batch_id = $1 ORDER BY signal`,
    [batchId],
  );
  return rows;
}
