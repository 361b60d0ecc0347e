import { ZipFile } from 'yazl';
import { sha256Hex } from '../history';
import { auditCsvHeader, auditCsvLine } from '../trail';
import type { EvidenceData } from './collect';
import { renderEvidencePdf } from './pdf';

export const PACKAGE_FORMAT = 'gxp-evidence-package/1';
export const MANIFEST = 'manifest.json';
export const REPORT_PDF = 'report.pdf';

export interface ManifestFile {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Manifest {
  format: typeof PACKAGE_FORMAT;
  deviationId: string;
  generatedAt: string;
  historySource: 'temporal' | 'archive';
  stateSource: EvidenceData['stateSource'];
  runs: Array<{ runId: string; file: string; events: number; sha256: string }>;
  files: ManifestFile[];
}

const json = (v: unknown) => `${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`;

/**
 * The inspection package as zip bytes: report.pdf, each run's history exactly as exported (the
 * CLI's JSON), the state, the audit-trail extract, holds, notifications, signatures and
 * reconciliation reports where they exist, and manifest.json with the SHA-256 of every other file.
 * The PDF lists the other files' hashes too, so a printout can be tied to the package.
 */
export async function buildEvidencePackage(data: EvidenceData): Promise<{ zip: Buffer; manifest: Manifest }> {
  const files: Array<{ path: string; content: Buffer }> = [];
  const add = (path: string, content: string | Buffer) =>
    files.push({ path, content: Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8') });

  const runs = data.record.runs.map((run, i) => {
    const file = `history/run-${String(i + 1).padStart(3, '0')}-${run.runId}.json`;
    add(file, run.text);
    return { runId: run.runId, file, events: run.history.events?.length ?? 0, sha256: run.sha256 };
  });
  add('state.json', json({ source: data.stateSource, state: data.state }));
  add('audit-trail.csv', auditCsvHeader() + data.audit.map(auditCsvLine).join(''));
  add('holds.json', json(data.holds));
  add('notifications.json', json(data.notifications));
  if (data.signatures) add('signatures.json', json(data.signatures));
  for (const r of data.reconciliationReports) add(`reconciliation/${r.id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`, json(r.report));

  const listed = files.map((f) => ({ path: f.path, sha256: sha256Hex(f.content) }));
  add(REPORT_PDF, await renderEvidencePdf(data, listed));

  const manifest: Manifest = {
    format: PACKAGE_FORMAT,
    deviationId: data.deviationId,
    generatedAt: data.generatedAt,
    historySource: data.record.source,
    stateSource: data.stateSource,
    runs,
    files: files.map((f) => ({ path: f.path, sha256: sha256Hex(f.content), bytes: f.content.length })),
  };

  const zip = new ZipFile();
  const mtime = new Date(data.generatedAt);
  for (const f of files) zip.addBuffer(f.content, `${data.deviationId}/${f.path}`, { mtime });
  zip.addBuffer(Buffer.from(json(manifest)), `${data.deviationId}/${MANIFEST}`, { mtime });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return { zip: Buffer.concat(chunks), manifest };
}
