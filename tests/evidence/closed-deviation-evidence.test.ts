import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { readZip, verifyEvidencePackage } from '../../audit/evidence/verify';
import { SCENARIOS, createScenarioCast, scenarioContext } from '../replay/scenarios';
import { compressedPolicy, startStack, type TestStack } from '../helpers/stack';

/**
 * The inspection package of a deviation closed through the whole lifecycle (the replay suite's
 * scenarios, through the API under the compressed policy), exported by a user with only the
 * auditor role. EVIDENCE_PDF_DIR=<dir> keeps each report.pdf there, to look at as a reviewer would.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ policy: compressedPolicy() });
});
afterAll(async () => {
  await stack.stop();
});

const binary = (res: request.Response, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

it.each(['effectiveness-loop', 'containment-escalated'])(
  'packages a deviation closed on the %s path for an auditor',
  async (name) => {
    const people = await createScenarioCast(stack.app, stack.pool);
    const id = await SCENARIOS.find((s) => s.name === name)!.run(scenarioContext(stack.app, stack.temporal, people, stack.pool));

    const pkg = await request(stack.app)
      .get(`/deviations/${id}/evidence`)
      .set({ Authorization: `Bearer ${people.auditor.token}` })
      .buffer(true)
      .parse(binary)
      .expect(200);
    const zip = pkg.body as Buffer;
    expect(verifyEvidencePackage(zip)).toMatchObject({ ok: true, deviationId: id, problems: [] });
    const entries = readZip(zip);
    const manifest = JSON.parse(entries.get(`${id}/manifest.json`)!.toString());
    expect(manifest).toMatchObject({ deviationId: id, stateSource: expect.stringMatching(/^(query|result)$/) });
    const { state } = JSON.parse(entries.get(`${id}/state.json`)!.toString());
    expect(state.stage).toBe('closed');
    // Every signature of the deviation is in the package, with its manifestation.
    const signatures = JSON.parse(entries.get(`${id}/signatures.json`)?.toString() ?? '[]') as Array<Record<string, unknown>>;
    const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM signature_ledger WHERE deviation_id = $1', [id]);
    expect(signatures).toHaveLength(rows[0].n);
    for (const s of signatures)
      expect(s).toMatchObject({ printed_name: expect.any(String), signed_at: expect.anything(), meaning: expect.any(String) });
    expect(JSON.parse(entries.get(`${id}/holds.json`)!.toString())).toEqual([expect.objectContaining({ disposition: 'release' })]);
    const pdf = entries.get(`${id}/report.pdf`)!;
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    if (process.env.EVIDENCE_PDF_DIR) {
      mkdirSync(process.env.EVIDENCE_PDF_DIR, { recursive: true });
      writeFileSync(path.join(process.env.EVIDENCE_PDF_DIR, `${name}-${id}.pdf`), pdf);
    }
  },
  180_000,
);
