import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import type { Manifest } from '../../lib/generator/write';

/**
 * A generated batch (lib/generator) into the product through the API, in the order a site sends
 * it: master data, the EPCIS documents (the JSON ones, or their EPCIS 1.2 XML twins), then what the
 * repository acknowledged. Throws naming the first thing refused.
 */
export async function sendGeneratedBatch(
  app: Express,
  dir: string,
  manifest: Manifest,
  apiKey: string,
  format: 'json' | 'xml' = 'json',
): Promise<void> {
  const post = async (route: string, send: (r: request.Test) => request.Test, expected: number) => {
    const res = await send(request(app).post(route).set('X-API-Key', apiKey));
    if (res.status !== expected) throw new Error(`${route}: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
  };
  for (const p of manifest.products) await post('/products', (r) => r.send(p), 201);
  for (const b of manifest.batches) await post('/batches', (r) => r.send(b), 201);
  const documents = format === 'xml' ? manifest.files.xmlDocuments : manifest.files.documents;
  if (!documents.length) throw new Error(`the batch was generated without ${format} documents`);
  const type = format === 'xml' ? 'application/xml' : 'application/json';
  for (const doc of documents) {
    await post('/epcis/capture', (r) => r.set('Content-Type', type).send(readFileSync(path.join(dir, doc), 'utf8')), 202);
  }
  for (const rep of manifest.files.repositoryReports) {
    const body = JSON.parse(readFileSync(path.join(dir, rep), 'utf8')) as { lot: string };
    await post(`/batches/${encodeURIComponent(body.lot)}/repository-reports`, (r) => r.send(body), 201);
  }
}
