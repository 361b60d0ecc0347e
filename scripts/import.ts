/**
 * npm run import -- [--url http://localhost:3000] [--api-key KEY | --token SESSION_TOKEN] FILE…
 *
 * Sends EPCIS 2.0 documents to a running API's POST /epcis/capture, one after another, streamed from
 * disk, with a progress bar over the bytes of all files, then a summary (events, serials, seconds).
 * Going through the API keeps one validation and one transaction per document for every client.
 * The API key defaults to CAPTURE_API_KEY from the environment; a person of the production role
 * signs in and passes the session token instead. A document the API rolled back because
 * it collided with another transaction (503 with Retry-After) is sent again.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { captureFile } from '../lib/capture-client';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.API_URL ?? `http://localhost:${process.env.PORT ?? 3000}` },
    'api-key': { type: 'string', default: process.env.CAPTURE_API_KEY },
    token: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help || positionals.length === 0) {
  process.stdout.write('usage: npm run import -- [--url http://localhost:3000] [--api-key KEY | --token SESSION_TOKEN] FILE…\n');
  process.exit(values.help ? 0 : 2);
}

/** Counts from the capture answer (api/routes/epcis.ts): events, and the identifiers they named. */
function countsOf(body: unknown): { events: number; serials: number } {
  const b = (body ?? {}) as { events?: unknown; identifiers?: unknown };
  return { events: typeof b.events === 'number' ? b.events : 0, serials: typeof b.identifiers === 'number' ? b.identifiers : 0 };
}

/**
 * A 503 with Retry-After is a capture the server rolled back, nothing stored (api/routes/epcis.ts):
 * the file is sent again after the wait asked for, up to this many times in all.
 */
const MAX_ATTEMPTS = 4;
const MAX_WAIT_SECONDS = 30;

async function main(): Promise<void> {
  const files = positionals;
  const sizes = files.map((f) => statSync(f).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const headers: Record<string, string> = values.token
    ? { Authorization: `Bearer ${values.token}` }
    : values['api-key']
      ? { 'X-API-Key': values['api-key'] }
      : {};
  const bar = new SingleBar(
    { format: 'import |{bar}| {percentage}% {file} {events} events, {serials} identifiers', hideCursor: true },
    Presets.shades_classic,
  );
  const started = performance.now();
  const summary = { events: 0, serials: 0, documents: 0, refused: 0 };
  let sent = 0;
  bar.start(total, 0, { file: '', events: 0, serials: 0 });
  const problems: string[] = [];
  for (const file of files) {
    const before = sent;
    let r = await captureFile(values.url as string, file, headers, (n) => bar.update((sent += n), { file }));
    for (let attempt = 1; r.status === 503 && r.retryAfter !== undefined && attempt < MAX_ATTEMPTS; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(r.retryAfter as number, MAX_WAIT_SECONDS) * 1000));
      sent = before;
      r = await captureFile(values.url as string, file, headers, (n) => bar.update((sent += n), { file }));
    }
    if (r.status >= 200 && r.status < 300) {
      const c = countsOf(r.body);
      summary.events += c.events;
      summary.serials += c.serials;
      summary.documents++;
    } else {
      summary.refused++;
      problems.push(`${file}: HTTP ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2)}`);
    }
    bar.update(sent, { file, events: summary.events, serials: summary.serials });
  }
  bar.stop();
  for (const p of problems) process.stderr.write(`${p}\n`);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${summary.documents} documents captured, ${summary.refused} refused: ${summary.events} events naming ${summary.serials} serials and SSCCs in ${seconds.toFixed(1)} s` +
      ` (${Math.round(summary.serials / Math.max(seconds, 0.001))} identifiers/s)\n`,
  );
  process.exit(summary.refused ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`import failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
