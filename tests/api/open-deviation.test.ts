import request from 'supertest';
import { eventually, startStack, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, signedInUser } from '../helpers/users';
import { deviationsStartedSince, lastDeviationNumber } from '../helpers/started-deviations';

let stack: TestStack;
let lead: Record<string, string>;
let auditor: Record<string, string>;
beforeAll(async () => {
  stack = await startStack();
  const qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  lead = bearer(qaLead.token);
  auditor = bearer((await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token);
});
afterAll(async () => {
  await stack.stop();
});

describe('POST /deviations', () => {
  it('needs a signed-in QA lead: 401 without a token, 403 for an auditor, nothing started', async () => {
    const before = await lastDeviationNumber(stack.pool);
    const refused = [newDeviationRequest(), newDeviationRequest()];
    const anonymous = await request(stack.app).post('/deviations').send(refused[0]).expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(stack.app).post('/deviations').set(auditor).send(refused[1]).expect(403);
    await request(stack.app).get('/deviations').expect(401);
    const openedBatches = (await deviationsStartedSince(stack, before)).flatMap((s) => s.batches);
    for (const body of refused) expect(openedBatches).not.toContain((body.batches as string[])[0]);
  });

  it('answers 201 with its stage and Location, then starts a workflow whose ID is the deviation number', async () => {
    const res = await request(stack.app).post('/deviations').set(lead).send(newDeviationRequest()).expect(201);
    expect(res.body.id).toMatch(/^DEV-\d{4}-\d{6}$/);
    expect(typeof res.body.stage).toBe('string');
    expect(res.headers.location).toBe(`/deviations/${res.body.id}`);

    // The start is recorded with the holds and carried out right after the answer.
    const description = await eventually(() => stack.temporal.workflow.getHandle(res.body.id).describe(), 10_000);
    expect(description.type).toBe('DeviationWorkflow');
    expect(description.status.name).toBe('RUNNING');
  });

  it('refuses an invalid body with 400 problem+json naming every bad field, and starts nothing', async () => {
    const before = await lastDeviationNumber(stack.pool);
    const res = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send({ title: 'x', symptom: 'smudged_label', severity: 'catastrophic', batches: [], reportedBy: 'qa' })
      .expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(400);
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['batches', 'description', 'severity', 'symptom', 'title']);
    expect((await deviationsStartedSince(stack, before)).filter((s) => s.title === 'x')).toEqual([]);
  });

  it('refuses unknown fields and malformed JSON', async () => {
    const unknown = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send({ ...newDeviationRequest(), priority: 'high' })
      .expect(400);
    expect(unknown.body.errors[0].message).toMatch(/priority/);
    const malformed = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .set('Content-Type', 'application/json')
      .send('{"title": ')
      .expect(400);
    expect(malformed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(malformed.body.detail).toMatch(/not valid JSON/);
  });

  it('returns the existing deviation (200) for a repeated Idempotency-Key', async () => {
    const body = newDeviationRequest();
    const key = `key-${Date.now()}-repeat`;
    const first = await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(body).expect(201);
    const second = await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(body).expect(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.location).toBe(`/deviations/${first.body.id}`);
  });

  it('starts one workflow when requests with the same Idempotency-Key race', async () => {
    const body = newDeviationRequest();
    const key = `key-${Date.now()}-race`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(body)),
    );
    const ids = new Set(answers.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const [id] = [...ids];
    const runs = [];
    for await (const wf of stack.temporal.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push(wf);
    expect(runs.length).toBeLessThanOrEqual(1);
  });

  it('refuses an Idempotency-Key reused with a different body (422)', async () => {
    const key = `key-${Date.now()}-reuse`;
    await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(newDeviationRequest()).expect(201);
    const res = await request(stack.app).post('/deviations').set(lead).set('Idempotency-Key', key).send(newDeviationRequest()).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('GET /deviations/:id', () => {
  it('returns the current stage through a workflow query', async () => {
    const created = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send(newDeviationRequest({ severity: 'critical' }))
      .expect(201);
    const res = await eventually(async () => {
      const r = await request(stack.app).get(`/deviations/${created.body.id}`).set(lead).expect(200);
      return r.body.stage === 'containment' ? r : undefined;
    });
    expect(res.body.deviation.severity).toBe('critical');
    expect(res.body.deviation.transitions.map((t: { to: string }) => t.to)).toEqual(['detection', 'containment']);
  });

  it('answers 404 problem+json for an unknown deviation', async () => {
    const res = await request(stack.app).get('/deviations/DEV-1999-999999').set(lead).expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(stack.app).get('/deviations/not-a-number').set(lead).expect(404);
  });
});

describe('GET /deviations', () => {
  it('lists deviations from the read model the workflow keeps current, filterable', async () => {
    const body = newDeviationRequest({ severity: 'minor' });
    const created = await request(stack.app).post('/deviations').set(lead).send(body).expect(201);
    const batch = (body.batches as string[])[0]!;
    const row = await eventually(async () => {
      const r = await request(stack.app).get('/deviations').set(lead).query({ batch }).expect(200);
      return r.body.items.find((i: { id: string; stage: string }) => i.id === created.body.id && i.stage === 'containment');
    });
    expect(row).toMatchObject({ severity: 'minor', status: 'open', batches: [batch] });

    const majors = await request(stack.app).get('/deviations').set(lead).query({ batch, severity: 'major' }).expect(200);
    expect(majors.body.items).toEqual([]);
  });

  it('refuses an unknown filter value with 400', async () => {
    const res = await request(stack.app).get('/deviations').set(lead).query({ stage: 'limbo' }).expect(400);
    expect(res.body.errors[0].path).toBe('stage');
  });
});
