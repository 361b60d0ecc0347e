import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/**
 * Sends one EPCIS document file (JSON, or XML by its .xml name) to POST /epcis/capture, streamed
 * from disk (never read whole into this process), and returns the answer. Shared by the import command and the benchmark.
 */
export interface CaptureAnswer {
  status: number;
  body: unknown;
  location?: string;
  /** Seconds the server asked to wait before sending again (a 503's Retry-After), when it said. */
  retryAfter?: number;
  ms: number;
}

export function captureFile(
  baseUrl: string,
  file: string,
  headers: Record<string, string>,
  onBytes: (n: number) => void = () => undefined,
): Promise<CaptureAnswer> {
  const started = performance.now();
  const url = new URL('/epcis/capture', baseUrl);
  const size = statSync(file).size;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: {
          // (an .xml file is an EPCIS 1.2/2.0 XML document; anything else EPCIS 2.0 JSON-LD)
          'content-type': /\.xml$/i.test(file) ? 'application/xml' : 'application/ld+json',
          'content-length': String(size),
          accept: 'application/json',
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            // not JSON: keep the text
          }
          const retryAfter = /^\d{1,6}$/.test(res.headers['retry-after'] ?? '') ? Number(res.headers['retry-after']) : undefined;
          resolve({ status: res.statusCode ?? 0, body, location: res.headers.location, retryAfter, ms: performance.now() - started });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const stream = createReadStream(file, { highWaterMark: 1 << 20 });
    stream.on('data', (c) => onBytes(c.length));
    stream.on('error', reject);
    stream.pipe(req);
  });
}
