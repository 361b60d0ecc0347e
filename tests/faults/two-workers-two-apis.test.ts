import { randomUUID } from 'node:crypto';
import { verifyLedger } from '../../signatures';
import { newDeviationRequest } from '../helpers/fixtures';
import { eventually, startStack, testConfig, type TestStack } from '../helpers/stack';
import { createUser, type TestUser } from '../helpers/users';
import { ownDatabase, startApiProcess, startWorkerProcess, type ServiceProcess } from './helpers';

/**
 * Two worker processes and two API processes on one task queue and one database, as a scaled-out
 * site runs them. A client that sends the same request to both APIs at once (a retry through the
 * load balancer) and a QA lead who signs through both at once get one deviation, one hold, one
 * task, one signature; every notification is delivered once though both workers' dispatchers
 * read the outbox.
 */
const COUNT = 6;
let db: Awaited<ReturnType<typeof ownDatabase>>;
let stack: TestStack;
let workers: ServiceProcess[] = [];
let apis: Array<ServiceProcess & { url: string }> = [];
let lead: TestUser;
let token: string;

beforeAll(async () => {
  // A database of its own: the workers' dispatchers deliver every pending notification they find.
  db = await ownDatabase('scaled', 920_000);
  stack = await startStack({ worker: false, config: testConfig({ DATABASE_URL: db.url }) });
  const env = {
    DATABASE_URL: stack.config.DATABASE_URL,
    TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
    POLICY_FILE: require.resolve('../../policies/compressed.json'),
  };
  [workers, apis] = await Promise.all([
    Promise.all([startWorkerProcess(stack.temporal, env), startWorkerProcess(stack.temporal, env)]),
    Promise.all([startApiProcess(env), startApiProcess(env)]),
  ]);
  lead = await createUser(stack.pool, { roles: ['qa_lead'] });
  const login = await call(apis[0]!, 'POST', '/auth/login', { login: lead.login, password: lead.password }, false);
  expect(login.status).toBe(200);
  token = (login.body as { token: string }).token;
}, 150_000);
afterAll(async () => {
  await Promise.all([...apis, ...workers].map((p) => p.stop()));
  await stack?.stop();
  await db?.drop();
});

async function call(
  api: { url: string },
  method: string,
  route: string,
  body?: unknown,
  signedIn = true,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...(signedIn ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

it('two workers and two APIs: requests and signatures sent to both at once give one deviation, hold, task, signature, notification each', async () => {
  const [a, b] = apis as [ServiceProcess & { url: string }, ServiceProcess & { url: string }];
  // Each request to both APIs at once, with one Idempotency-Key, as a client retrying elsewhere does.
  const requests = Array.from({ length: COUNT }, () => ({ key: randomUUID(), body: newDeviationRequest() }));
  const opened = await Promise.all(
    requests.map(async ({ key, body }) => {
      const answers = await Promise.all([a, b].map((api) => call(api, 'POST', '/deviations', body, true, { 'Idempotency-Key': key })));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 201]);
      expect(answers[0]!.body.id).toBe(answers[1]!.body.id);
      return { id: answers[0]!.body.id as string, lot: (body.batches as string[])[0]! };
    }),
  );
  const ids = opened.map((o) => o.id);
  expect(new Set(ids).size).toBe(COUNT);

  // Each containment task signed by the QA lead through both APIs at the same moment.
  const signing = await Promise.all(
    ids.map(async (id, i) => {
      const task = await eventually(async () => {
        const inbox = await call(i % 2 ? a : b, 'GET', `/tasks?deviation=${id}&gate=containment_verification&scope=all`);
        return (inbox.body.items as Array<{ id: string }> | undefined)?.[0];
      }, 60_000);
      const sign = { meaning: 'verified', login: lead.login, password: lead.password };
      return Promise.all([a, b].map((api) => call(api, 'POST', `/tasks/${task.id}/sign`, sign)));
    }),
  );
  for (const answers of signing) {
    // One accepted; the other refused: the task is signed already (409), or this person's signature on it is being recorded (403).
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    const refused = answers.filter((r) => r.status !== 201).map((r) => `${r.status} ${String(r.body.detail)}`);
    expect(refused).toEqual([
      // (refused by the API's own check, naming the task in full, or by the workflow's)
      expect.stringMatching(/^(409 [Tt]ask (\S+\.)?T1 is already signed\.?|403 \S+ is already signing T1)$/),
    ]);
  }
  await eventually(async () => {
    const { rows } = await stack.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM deviations WHERE id = ANY ($1) AND stage = 'investigation'`,
      [ids],
    );
    return rows[0]!.n === COUNT ? true : undefined;
  }, 60_000);

  // One deviation per request, one hold per batch.
  const rows = await stack.pool.query<{ id: string; batches: string[] }>('SELECT id, batches FROM deviations WHERE id = ANY ($1)', [ids]);
  expect(rows.rowCount).toBe(COUNT);
  const holds = await stack.pool.query<{ deviation_id: string; lot: string }>(
    'SELECT deviation_id, lot FROM holds WHERE lot = ANY ($1) ORDER BY deviation_id',
    [opened.map((o) => o.lot)],
  );
  expect(holds.rows).toEqual([...opened].sort((x, y) => x.id.localeCompare(y.id)).map((o) => ({ deviation_id: o.id, lot: o.lot })));

  // One containment task each, signed once; one signature each in the ledger, which still verifies.
  const tasks = await stack.pool.query<{ deviation_id: string; status: string; n: number }>(
    `SELECT deviation_id, status, signatures AS n
       FROM signoff_tasks WHERE deviation_id = ANY ($1) AND gate = 'containment_verification'`,
    [ids],
  );
  expect(tasks.rows.map((t) => [t.status, t.n])).toEqual(ids.map(() => ['signed', 1]));
  const ledger = await stack.pool.query<{ deviation_id: string; task_id: string }>(
    'SELECT deviation_id, task_id FROM signature_ledger WHERE deviation_id = ANY ($1)',
    [ids],
  );
  expect(ledger.rows.map((r) => r.deviation_id).sort()).toEqual([...ids].sort());
  expect((await verifyLedger(stack.pool)).ok).toBe(true);

  // Every notification of these deviations delivered once, by one of the two workers.
  const delivered = await eventually(async () => {
    const { rows: n } = await stack.pool.query<{ id: string; status: string; attempts: number }>(
      'SELECT id::text, status, attempts FROM notifications WHERE deviation_id = ANY ($1)',
      [ids],
    );
    return n.length >= COUNT * 2 && n.every((r) => r.status === 'sent') ? n : undefined;
  }, 60_000);
  expect(delivered.every((r) => r.attempts === 1)).toBe(true);
  const logged = workers.flatMap((w) =>
    w
      .output()
      .split('\n')
      .flatMap((line) =>
        /"msg":"notification"/.test(line) ? [String((JSON.parse(line) as { notification: { id: number } }).notification.id)] : [],
      ),
  );
  const ours = logged.filter((id) => delivered.some((r) => r.id === id));
  expect(ours.sort()).toEqual(delivered.map((r) => r.id).sort());

  // Both workers did the work.
  const identities = new Set<string>();
  for (const id of ids) {
    for (const e of (await stack.temporal.workflow.getHandle(id).fetchHistory()).events ?? []) {
      const identity = e.activityTaskStartedEventAttributes?.identity ?? e.workflowTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity.split('@')[0]!);
    }
  }
  expect([...identities].sort()).toEqual(workers.map((w) => String(w.child.pid)).sort());
}, 150_000);
