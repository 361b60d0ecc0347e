import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { withCheckDigit } from '../../domain/gs1';
import type { DeviationState } from '../../workflows/types';
import { CAPTURE_KEY } from '../epcis/helpers';
import { eventually } from '../helpers/eventually';
import { startStack, testConfig, type TestStack } from '../helpers/stack';
import { bearer, signedInUser, type TestUser } from '../helpers/users';
import { captureBatch, uniqueLine, type CapturedBatch } from '../monitoring/helpers';

/**
 * EMVS alerts and DSCSA verifications into deviations, end to end on the real stack: a generated
 * batch captured through the API as the line system sends it (two of its serials left out of the
 * repository report), alerts posted as the on-boarding partner's connector posts them (the capture
 * key), deviations started on the dev server by the worker. Production policy: the regulatory
 * notification window is 24 hours.
 */
let stack: TestStack;
let auditor: TestUser & { token: string };
let qaLead: TestUser & { token: string };
let batch: CapturedBatch;
let notUploaded: string[];
let uploaded: string[];

const HOUR = 3600_000;
const alertBody = (serial: string, over: Record<string, unknown> = {}) => ({
  alertId: `DE-${randomBytes(6).toString('hex').toUpperCase()}`,
  alertCode: 'A3',
  returnCode: 'NMVS_NC_PC_02',
  message: 'Pack not found',
  productCode: batch.gtin,
  batch: batch.lot,
  serialNumber: serial,
  market: 'DE',
  raisedAt: new Date().toISOString(),
  ...over,
});
const postAlert = (body: object) => request(stack.app).post('/emvs/alerts').set('X-API-Key', CAPTURE_KEY).send(body);
const deviation = (id: string) =>
  eventually(async () => {
    const res = await request(stack.app).get(`/deviations/${id}`).set(bearer(auditor.token));
    return res.status === 200 ? (res.body.deviation as DeviationState) : undefined;
  }, 60_000);
const count = async (sql: string, params: unknown[] = []) => Number((await stack.pool.query<{ n: string }>(sql, params)).rows[0]!.n);
const written = async () => ({
  alerts: await count('SELECT count(*) AS n FROM emvs_alerts'),
  claims: await count(`SELECT count(*) AS n FROM monitoring_signals WHERE kind IN ('emvs_alert', 'dscsa_verification')`),
  verifications: await count('SELECT count(*) AS n FROM dscsa_verifications'),
  statusChanges: await count('SELECT count(*) AS n FROM emvs_alert_status_changes'),
  auditOfAlerts: await count(`SELECT count(*) AS n FROM audit_trail WHERE action LIKE 'emvs.%' OR action LIKE 'dscsa.%'`),
});

beforeAll(async () => {
  stack = await startStack({ config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  auditor = await signedInUser(stack.app, stack.pool, { roles: ['auditor'] });
  qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  batch = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, uniqueLine('EMV'), { units: 100, missingReports: 2 });
  const units = await stack.pool.query<{ serial: string; reported: boolean }>(
    `SELECT si.serial, EXISTS (SELECT 1 FROM repository_report_serials r WHERE r.batch_id = si.batch_id AND r.serial = si.serial) AS reported
       FROM serialized_items si WHERE si.batch_id = $1 AND si.commissionings > 0 AND si.status NOT IN ('destroyed', 'sampled', 'decommissioned')
      ORDER BY si.serial`,
    [batch.batchId],
  );
  notUploaded = units.rows.filter((u) => !u.reported).map((u) => u.serial);
  uploaded = units.rows.filter((u) => u.reported).map((u) => u.serial);
  expect(notUploaded.length).toBeGreaterThanOrEqual(2);
  expect(uploaded.length).toBeGreaterThanOrEqual(2);
});
afterAll(async () => {
  await stack.stop();
});

describe('an EMVS alert for a serial the company never uploaded', () => {
  let alert: ReturnType<typeof alertBody>;
  let deviationId: string;

  it("opens a deviation classed as the company's own error, with the alert and the cross-check as evidence", async () => {
    alert = alertBody(notUploaded[0]!);
    const res = await postAlert(alert).expect(201);
    expect(res.headers.location).toBe(`/emvs/alerts/${alert.alertId}`);
    expect(res.body).toMatchObject({
      alertId: alert.alertId,
      classification: 'mah_error',
      cause: 'not_uploaded',
      status: 'new',
      deviation: { disposition: 'opened' },
      regulatoryClock: { required: false },
      crossCheck: { productKnown: true, uploaded: false, unit: { lot: batch.lot, commissionings: 1 } },
    });
    deviationId = res.body.deviation.id;

    const d = await deviation(deviationId);
    expect(d).toMatchObject({
      source: 'emvs',
      reportedBy: 'emvs',
      severity: 'major',
      symptom: 'missing_report',
      batches: [batch.lot],
      gtins: [batch.gtin],
      detection: {
        kind: 'emvs_alert',
        signal: `emvs:${alert.alertId}`,
        metric: 'not_uploaded',
        lot: batch.lot,
        alert: { framework: 'eu_fmd', reference: alert.alertId, code: 'A3', serial: alert.serialNumber, classification: 'mah_error' },
      },
      regulatory: [],
    });
    expect(d.title).toContain('never uploaded');
    expect(d.description).toContain(alert.alertId);
    expect(d.description).toContain(`is in no EMVS repository report of batch ${batch.lot}`);
    // Containment runs as for any deviation: the batch is held.
    await eventually(async () => ((await deviation(deviationId)).containment.holds.length === 1 ? true : undefined), 60_000);

    const audit = await stack.pool.query<{ actor: string; action: string }>(
      `SELECT actor, action FROM audit_trail WHERE deviation_id = $1 AND action IN ('emvs.alert_received', 'monitoring.deviation_opened') ORDER BY id`,
      [deviationId],
    );
    expect(audit.rows).toEqual([
      { actor: 'emvs', action: 'monitoring.deviation_opened' },
      { actor: 'api-key:capture', action: 'emvs.alert_received' },
    ]);
  });

  it('posted again, is the same alert and the same deviation (201 once, then 200)', async () => {
    const before = await written();
    const res = await postAlert(alert).expect(200);
    expect(res.body.deviation.id).toBe(deviationId);
    expect(await written()).toEqual(before);
    const naming = await stack.pool.query('SELECT id FROM deviations WHERE batches @> ARRAY[$1]::text[]', [batch.lot]);
    expect(naming.rows).toEqual([{ id: deviationId }]);
  });

  it('another alert of the same batch and cause is linked to that deviation, not a second one', async () => {
    const second = alertBody(notUploaded[1]!, { alertCode: 'A2' });
    const res = await postAlert(second).expect(201);
    expect(res.body).toMatchObject({ cause: 'not_uploaded', deviation: { id: deviationId, disposition: 'linked' } });
    // (told at once when Temporal answers in time; otherwise by a delivery round, up to a minute later)
    await eventually(
      async () => {
        const { rows } = await stack.pool.query('SELECT delivered_at FROM monitoring_signals WHERE signal = $1', [
          `emvs:${second.alertId}`,
        ]);
        return rows[0]?.delivered_at ?? undefined;
      },
      120_000,
      250,
    );
    const d = await eventually(async () => {
      const state = await deviation(deviationId);
      return state.monitoringSignals?.length ? state : undefined;
    }, 60_000);
    expect(d.monitoringSignals).toEqual([expect.objectContaining({ key: `emvs:${second.alertId}`, kind: 'emvs_alert' })]);
  }, 240_000);

  it('the same alert ID with other content is refused, nothing changed', async () => {
    const before = await written();
    const res = await postAlert({ ...alert, serialNumber: uploaded[0] }).expect(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await written()).toEqual(before);
  });

  it("records status changes in the alert's history and the audit trail; closed is final", async () => {
    const url = `/emvs/alerts/${alert.alertId}/status`;
    await request(stack.app)
      .post(url)
      .set(bearer(qaLead.token))
      .send({ status: 'under_investigation', reason: 'Checking the upload of batch data' })
      .expect(200);
    const closed = await request(stack.app)
      .post(url)
      .set('X-API-Key', CAPTURE_KEY)
      .send({ status: 'closed', reason: 'MAH error: serials re-uploaded to the EU hub' })
      .expect(200);
    expect(closed.body).toMatchObject({
      status: 'closed',
      statusReason: 'MAH error: serials re-uploaded to the EU hub',
      statusHistory: [
        { from: 'new', to: 'under_investigation', by: qaLead.login },
        { from: 'under_investigation', to: 'closed', by: 'api-key:capture' },
      ],
    });
    const before = await written();
    const refused = await request(stack.app).post(url).set(bearer(qaLead.token)).send({ status: 'active', reason: 'Reopen' }).expect(409);
    expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await written()).toEqual(before);
    const audit = await stack.pool.query<{ actor: string; before: unknown; after: unknown; reason: string }>(
      `SELECT actor, before, after, reason FROM audit_trail WHERE action = 'emvs.alert_status_changed' AND entity_id = $1 ORDER BY id`,
      [alert.alertId],
    );
    expect(audit.rows).toEqual([
      {
        actor: qaLead.login,
        before: { status: 'new' },
        after: { status: 'under_investigation' },
        reason: 'Checking the upload of batch data',
      },
      {
        actor: 'api-key:capture',
        before: { status: 'under_investigation' },
        after: { status: 'closed' },
        reason: 'MAH error: serials re-uploaded to the EU hub',
      },
    ]);
  });
});

describe('an EMVS alert for a serial commissioned, uploaded and never decommissioned', () => {
  it('is suspected falsification: a critical deviation whose 24-hour notification clock has started', async () => {
    const alert = alertBody(uploaded[0]!, { alertCode: 'A7', returnCode: 'NMVS_NC_PCK_22', message: 'Pack already inactive' });
    // A QA lead may enter an alert by hand too.
    const res = await request(stack.app).post('/emvs/alerts').set(bearer(qaLead.token)).send(alert).expect(201);
    expect(res.body).toMatchObject({
      classification: 'suspected_falsification',
      cause: 'suspected_falsification',
      deviation: { disposition: 'opened' },
      regulatoryClock: { required: true },
      crossCheck: { uploaded: true, unit: { lot: batch.lot } },
    });
    const id = res.body.deviation.id as string;

    const d = await eventually(async () => {
      const state = await deviation(id);
      return state.regulatory.length ? state : undefined;
    }, 120_000);
    expect(d).toMatchObject({ severity: 'critical', source: 'emvs', detection: { alert: { classification: 'suspected_falsification' } } });
    const [clock] = d.regulatory;
    expect(clock).toMatchObject({
      framework: 'eu_fmd',
      finding: 'suspected_falsified',
      reportedBy: 'emvs',
      required: expect.arrayContaining(['national_competent_authority']),
    });
    expect(Date.parse(clock!.dueAt) - Date.parse(clock!.startedAt)).toBe(24 * HOUR);
    expect(clock!.details).toContain(alert.alertId);
    expect(d.deadlines.map((x) => x.key)).toContain('regulatory:1');

    const view = await eventually(async () => {
      const r = await request(stack.app).get(`/emvs/alerts/${alert.alertId}`).set(bearer(auditor.token)).expect(200);
      return r.body.regulatoryClock.startedAt ? r.body : undefined;
    }, 60_000);
    expect(view).toMatchObject({ deviation: { id, delivered: true }, regulatoryClock: { required: true, refused: null } });
  }, 240_000);
});

describe('bad input', () => {
  it.each([
    ['a GTIN with a wrong check digit', { productCode: '04012345190938' }, 'productCode'],
    ['an unknown field', { extra: true }, '(body)'],
    ['a lowercase market', { market: 'de' }, 'market'],
    ['an expiry that does not exist', { expiryDate: '271332' }, 'expiryDate'],
    ['an alert ID of 101 characters', { alertId: 'A'.repeat(101) }, 'alertId'],
  ])('is refused with 400 problem+json naming the field (%s), nothing written', async (_what, over, field) => {
    const before = await written();
    const res = await postAlert(alertBody(uploaded[1]!, over)).expect(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect(await written()).toEqual(before);
  });

  it('is refused to callers who may not record alerts, nothing written', async () => {
    const before = await written();
    await request(stack.app).post('/emvs/alerts').send(alertBody(uploaded[1]!)).expect(401);
    await request(stack.app).post('/emvs/alerts').set(bearer(auditor.token)).send(alertBody(uploaded[1]!)).expect(403);
    await request(stack.app)
      .post('/emvs/alerts/NOPE/status')
      .set(bearer(qaLead.token))
      .send({ status: 'closed', reason: 'No such alert' })
      .expect(404);
    await request(stack.app).post('/emvs/alerts/NOPE/status').set(bearer(qaLead.token)).send({ status: 'finished' }).expect(400);
    expect(await written()).toEqual(before);
  });
});

describe('DSCSA verification', () => {
  const gln = (n: number) => withCheckDigit(`061414100${String(n).padStart(3, '0')}`);
  const expiry = async (batchId = batch.batchId) =>
    (await stack.pool.query<{ e: string }>(`SELECT to_char(expiry, 'YYMMDD') AS e FROM batches WHERE id = $1`, [batchId])).rows[0]!.e;
  const verification = (over: Record<string, unknown>) => ({
    gtin: batch.gtin,
    lotNumber: batch.lot,
    verified: false,
    verificationFailureReason: 'No_match_GTIN_Serial',
    requesterGLN: gln(1),
    responderGLN: gln(2),
    correlationUUID: randomUUID(),
    verificationTimestamp: new Date().toISOString(),
    context: 'dscsaSaleableReturn',
    ...over,
  });

  it("a response not verified, for a serial the company never commissioned, opens a deviation as the company's own error", async () => {
    const body = verification({ serialNumber: `X${randomBytes(4).toString('hex')}`, expirationDate: await expiry() });
    const res = await request(stack.app).post('/dscsa/verifications').set('X-API-Key', CAPTURE_KEY).send(body).expect(201);
    expect(res.body).toMatchObject({
      verified: false,
      classification: 'mah_error',
      cause: 'not_commissioned',
      deviation: { disposition: 'opened' },
    });
    const d = await deviation(res.body.deviation.id);
    expect(d).toMatchObject({
      source: 'dscsa',
      severity: 'major',
      detection: { kind: 'dscsa_verification', alert: { framework: 'dscsa', code: 'No_match_GTIN_Serial' } },
      regulatory: [],
    });
    // The same correlation UUID again: the same record.
    const again = await request(stack.app).post('/dscsa/verifications').set('X-API-Key', CAPTURE_KEY).send(body).expect(200);
    expect(again.body.deviation.id).toBe(res.body.deviation.id);
  });

  it('a verified response is recorded and opens nothing', async () => {
    const before = await written();
    const body = verification({
      serialNumber: uploaded[1]!,
      expirationDate: await expiry(),
      verified: true,
      verificationFailureReason: undefined,
    });
    const res = await request(stack.app).post('/dscsa/verifications').set('X-API-Key', CAPTURE_KEY).send(body).expect(201);
    expect(res.body).toMatchObject({ verified: true, classification: null, deviation: null });
    expect(await written()).toMatchObject({ claims: before.claims, verifications: before.verifications + 1 });
  });

  it('answers verification requests from commissioning data, as the Lightweight Messaging Standard responds, and records the answer', async () => {
    // A batch of its own: the first one is held by the deviations above, and a held batch is not verified.
    const held = await request(stack.app)
      .get(`/dscsa/verify/gtin/${batch.gtin}/lot/${encodeURIComponent(batch.lot)}/ser/${encodeURIComponent(uploaded[1]!)}`)
      .query({ exp: await expiry() })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(200);
    expect(held.body.data).toEqual({ verified: false, verificationFailureReason: 'Manufacturer_policy' });
    const other = await captureBatch(stack.app, stack.pool, CAPTURE_KEY, uniqueLine('DSC'), { units: 40 });
    const serial = (
      await stack.pool.query<{ serial: string }>('SELECT serial FROM serialized_items WHERE batch_id = $1 ORDER BY serial LIMIT 1', [
        other.batchId,
      ])
    ).rows[0]!.serial;
    const exp = await expiry(other.batchId);
    const corrUUID = randomUUID();
    const ok = await request(stack.app)
      .get(`/dscsa/verify/gtin/${other.gtin}/lot/${encodeURIComponent(other.lot)}/ser/${encodeURIComponent(serial)}`)
      .query({ exp, linkType: 'verificationService', context: 'dscsaSaleableReturn', reqGLN: gln(1), corrUUID })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(200);
    expect(ok.body).toEqual({ verificationTimestamp: expect.any(String), data: { verified: true }, corrUUID });
    const recorded = await stack.pool.query(
      'SELECT channel, verified, requester_gln FROM dscsa_verifications WHERE correlation_uuid = $1',
      [corrUUID],
    );
    expect(recorded.rows).toEqual([{ channel: 'answered', verified: true, requester_gln: gln(1) }]);

    const wrongLot = await request(stack.app)
      .get(`/dscsa/verify/gtin/${other.gtin}/lot/OTHER-LOT/ser/${encodeURIComponent(serial)}`)
      .query({ exp })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(200);
    expect(wrongLot.body.data).toEqual({ verified: false, verificationFailureReason: 'No_match_GTIN_Serial_Lot' });
    const unknown = await request(stack.app)
      .get(`/dscsa/verify/gtin/${batch.gtin}/lot/${encodeURIComponent(batch.lot)}/ser/NEVER${randomBytes(3).toString('hex')}`)
      .query({ exp })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(200);
    expect(unknown.body.data).toEqual({ verified: false, verificationFailureReason: 'No_match_GTIN_Serial' });

    await request(stack.app).get(`/dscsa/verify/gtin/00000000000000/lot/L/ser/S`).query({ exp }).set('X-API-Key', CAPTURE_KEY).expect(404);
    const bad = await request(stack.app).get(`/dscsa/verify/gtin/123/lot/L/ser/S`).query({ exp }).set('X-API-Key', CAPTURE_KEY).expect(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    await request(stack.app)
      .get(`/dscsa/verify/gtin/${batch.gtin}/lot/L/ser/S`)
      .query({ exp: '20271399' })
      .set('X-API-Key', CAPTURE_KEY)
      .expect(400);
  });

  it('a verification with bad input is refused, nothing written', async () => {
    const before = await written();
    for (const over of [{ requesterGLN: '1234567890123' }, { correlationUUID: 'not-a-uuid' }, { verified: true }]) {
      const res = await request(stack.app)
        .post('/dscsa/verifications')
        .set('X-API-Key', CAPTURE_KEY)
        .send(verification({ serialNumber: 'S1', expirationDate: '271231', ...over }))
        .expect(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    }
    expect(await written()).toEqual(before);
  });
});
