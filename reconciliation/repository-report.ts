import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { repositoryReportSchema } from '../domain/master-data';
import { parseEpc, parseSerial } from '../domain/gs1';
import { withTransaction, type Pool } from '../db/pool';
import { copyValue } from '../db/copy-text';
import { findBatch, type BatchRow } from './batches';
import { JsonListSplitter, jsonStringValue, PayloadTooLargeError } from '../lib/json-list-splitter';

/**
 * A repository report (what EMVS / the DSCSA partner acknowledged), streamed: the body is parsed
 * token by token, each serial is validated as it arrives and COPYed into a temporary staging
 * table, so a million-serial report never sits in memory. Only the report's few scalar fields
 * and the first position of each GTIN named by an SGTIN are kept. One transaction: on any
 * problem nothing is stored.
 */

export interface ReportProblem {
  path: string;
  message: string;
}

const headerSchema = repositoryReportSchema.omit({ serials: true });

/** The serials are cut out of the body one by one; the rest, a few scalar fields, may not pass 1 MiB. */
const REPORTED_SERIALS = { paths: [['serials']], listName: '"serials" array', maxHeaderBytes: 1024 * 1024 };

export type StoreReportResult =
  | { ok: true; reportId: string; batch: BatchRow; target: string; reportedAt: string; serials: number }
  | { ok: false; kind: 'invalid'; detail: string; problems: ReportProblem[]; totalProblems: number }
  | { ok: false; kind: 'missing'; lot: string; gtin?: string }
  | { ok: false; kind: 'ambiguous'; lot: string; gtins: string[] };

const MAX_LISTED = 100;
const FLUSH_AT = 64 * 1024;

/** A reported serial: its AI 21 value, or the SGTIN as EPC URN / Digital Link. */
export function checkReportedSerial(v: string): { gtin: string | null; serial: string } | { error: string } {
  if (v.startsWith('urn:') || /^https?:/i.test(v)) {
    const r = parseEpc(v);
    if (r.ok && r.value.kind === 'sgtin') return { gtin: r.value.gtin as string, serial: r.value.serial as string };
    return { error: r.ok ? 'is not an SGTIN' : r.error.message };
  }
  const r = parseSerial(v);
  return r.ok ? { gtin: null, serial: r.value as string } : { error: r.error.message };
}

async function write(stream: Writable, data: string): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

export async function storeRepositoryReport(
  pool: Pool,
  body: Readable,
  opts: { lot: string; gtin?: string; maxBytes: number },
): Promise<StoreReportResult> {
  return withTransaction(pool, async (client, tx) => {
    await client.query(`CREATE TEMP TABLE report_stage (serial text NOT NULL) ON COMMIT DROP`);
    const copy = client.query(copyFrom('COPY report_stage (serial) FROM STDIN'));
    tx.copyInProgress = true;
    let copyFailed: Error | null = null;
    copy.on('error', (e: Error) => {
      copyFailed = e;
    });

    const problems: ReportProblem[] = [];
    let totalProblems = 0;
    const problem = (path: string, message: string) => {
      totalProblems++;
      if (problems.length < MAX_LISTED) problems.push({ path, message });
    };
    const gtins = new Map<string, number>();
    let rows = '';
    const splitter = new JsonListSplitter(
      {
        element: (text, index, kind) => {
          if (kind !== 'string') return problem(`serials.${index}`, 'must be a string');
          const value = jsonStringValue(text as Buffer);
          if (value === null) return problem(`serials.${index}`, 'is not a valid JSON string');
          const s = checkReportedSerial(value);
          if ('error' in s) return problem(`serials.${index}`, `${JSON.stringify(value.slice(0, 60))} ${s.error}`);
          if (s.gtin !== null && !gtins.has(s.gtin)) gtins.set(s.gtin, index);
          // Once anything is wrong nothing will be stored: keep validating, stop staging.
          if (totalProblems === 0) rows += `${copyValue(s.serial)}\n`;
        },
      },
      REPORTED_SERIALS,
    );

    let bytes = 0;
    for await (const raw of body as AsyncIterable<Buffer | string>) {
      const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      bytes += chunk.length;
      if (bytes > opts.maxBytes) throw new PayloadTooLargeError(opts.maxBytes);
      splitter.write(chunk);
      if (totalProblems > 0) rows = '';
      if (rows.length >= FLUSH_AT) {
        await write(copy, rows);
        rows = '';
      }
      if (copyFailed) throw copyFailed;
    }
    const header = splitter.end() as Record<string, unknown>;
    if (rows && totalProblems === 0) await write(copy, rows);
    rows = '';
    const serialCount = splitter.elements;
    const done = once(copy, 'finish');
    copy.end();
    await done;
    tx.copyInProgress = false;
    if (copyFailed) throw copyFailed;

    if (!Array.isArray(header.serials)) problem('serials', 'serials' in header ? 'must be an array' : 'is required');
    delete header.serials;
    const parsed = headerSchema.safeParse(header);
    if (!parsed.success) {
      for (const i of parsed.error.issues) problem(i.path.length ? i.path.map(String).join('.') : '(body)', i.message);
    }
    if (totalProblems > 0 || !parsed.success) {
      tx.rollBackOnReturn();
      const bad = problems.find((p) => p.path.startsWith('serials.'));
      const detail = bad
        ? `The report was refused whole: ${totalProblems} problem(s), first ${bad.path}; nothing was stored.`
        : 'The request body is invalid.';
      return { ok: false, kind: 'invalid', detail, problems, totalProblems };
    }
    const r = parsed.data;
    if (r.lot !== undefined && r.lot !== opts.lot) {
      tx.rollBackOnReturn();
      return {
        ok: false,
        kind: 'invalid',
        detail: 'The report names another lot than the path.',
        problems: [{ path: 'lot', message: `must be ${opts.lot}` }],
        totalProblems: 1,
      };
    }
    if (r.gtin !== undefined && opts.gtin !== undefined && r.gtin !== opts.gtin) {
      tx.rollBackOnReturn();
      return {
        ok: false,
        kind: 'invalid',
        detail: 'The report names another GTIN than the query.',
        problems: [{ path: 'gtin', message: `must be ${opts.gtin}` }],
        totalProblems: 1,
      };
    }
    const gtin = opts.gtin ?? r.gtin;
    const found = await findBatch(client, opts.lot, gtin);
    if ('missing' in found || 'ambiguous' in found) {
      tx.rollBackOnReturn();
      return 'missing' in found
        ? { ok: false, kind: 'missing', lot: opts.lot, gtin }
        : { ok: false, kind: 'ambiguous', lot: opts.lot, gtins: found.ambiguous };
    }
    const batch = found.found;
    const wrong = [...gtins].filter(([g]) => g !== batch.gtin).sort((a, b) => a[1] - b[1])[0];
    if (wrong) {
      tx.rollBackOnReturn();
      return {
        ok: false,
        kind: 'invalid',
        detail: 'A reported SGTIN is of another product.',
        problems: [{ path: `serials.${wrong[1]}`, message: `GTIN is not ${batch.gtin}` }],
        totalProblems: 1,
      };
    }
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO repository_reports (batch_id, target, reported_at, serial_count) VALUES ($1, $2, $3, $4) RETURNING id`,
      [batch.id, r.target, r.reportedAt, serialCount],
    );
    const reportId = inserted.rows[0]!.id;
    await client.query(
      `INSERT INTO repository_report_serials (report_id, batch_id, serial)
       SELECT $1, $2, serial FROM report_stage ON CONFLICT DO NOTHING`,
      [reportId, batch.id],
    );
    return { ok: true, reportId, batch, target: r.target, reportedAt: r.reportedAt, serials: serialCount };
  });
}
