import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { eventually, startStack, type TestStack } from '../helpers/stack';
import { newDeviationRequest } from '../helpers/fixtures';
import { bearer, signedInUser } from '../helpers/users';

/**
 * GET /deviations as the board asks it: the exact line, free text over ID, title, symptom, reporter,
 * batches and lines (case ignored; %, _ and \ in the text are characters, not patterns), combined
 * with the other filters, and real paging: every page says how many deviations match in all.
 * Deviations are opened through the API and read back from the read model the workflows keep.
 */
let stack: TestStack;
let lead: Record<string, string>;
let leadLogin: string;
let auditor: Record<string, string>;

const tag = randomBytes(4).toString('hex').toUpperCase();
const LINE_A = `PL-${tag}`;
const LINE_B = `PM-${tag}`;
/** Opened in this order (so listed in the reverse one): what each is named by. */
const OPENED = [
  { title: `Label 100% smudged ${tag}`, severity: 'major', lines: [LINE_A], batches: [`A1${tag}`] },
  { title: `Label 1000 smudged ${tag} \\ reprinted`, severity: 'minor', lines: [LINE_A], batches: [`A2${tag}`] },
  { title: `Gap in serial_no ${tag}`, severity: 'major', lines: [LINE_B], batches: [`B1${tag}`] },
  { title: `Gap in serialXno ${tag}`, severity: 'critical', lines: [LINE_A, LINE_B], batches: [`B2${tag}`, `B3${tag}`] },
] as const;
const ids: string[] = [];

interface Page {
  items: Array<{ id: string; stage: string }>;
  total: number;
  limit: number;
  offset: number;
}
const list = async (query: Record<string, string | number>): Promise<Page> =>
  (await request(stack.app).get('/deviations').set(auditor).query(query).expect(200)).body as Page;
/** The IDs listed, each as the position it was opened in (d0 … d3). */
const which = (page: Page) => page.items.map((d) => `d${ids.indexOf(d.id)}`);

beforeAll(async () => {
  stack = await startStack();
  const qaLead = await signedInUser(stack.app, stack.pool, { roles: ['qa_lead'] });
  lead = bearer(qaLead.token);
  leadLogin = qaLead.login;
  auditor = bearer((await signedInUser(stack.app, stack.pool, { roles: ['auditor'] })).token);
  for (const d of OPENED) {
    const res = await request(stack.app)
      .post('/deviations')
      .set(lead)
      .send(newDeviationRequest({ ...d, lines: [...d.lines], batches: [...d.batches], symptom: 'other' }))
      .expect(201);
    ids.push(res.body.id as string);
  }
  // Each is listed once its workflow has reached containment, where it stays for hours.
  await eventually(async () => {
    const page = await list({ q: leadLogin });
    return page.items.length === ids.length && page.items.every((d) => d.stage === 'containment') ? page : undefined;
  }, 30_000);
});
afterAll(async () => {
  await stack.stop();
});

describe('GET /deviations filters', () => {
  it('line: the deviations naming that line exactly (not a prefix, not another case)', async () => {
    expect(which(await list({ line: LINE_A }))).toEqual(['d3', 'd1', 'd0']);
    expect(which(await list({ line: LINE_B }))).toEqual(['d3', 'd2']);
    expect((await list({ line: `PL-${tag.slice(0, -1)}` })).total).toBe(0);
    expect((await list({ line: LINE_A.toLowerCase() })).total).toBe(0);
  });

  it('q: a substring of the ID, title, reporter, batches or lines, whatever its case', async () => {
    expect(which(await list({ q: `label 100% SMUDGED ${tag}`.toLowerCase() }))).toEqual(['d0']);
    expect(which(await list({ q: `b3${tag}`.toLowerCase() }))).toEqual(['d3']);
    expect(which(await list({ q: LINE_B.toLowerCase() }))).toEqual(['d3', 'd2']);
    expect(which(await list({ q: leadLogin.toUpperCase() }))).toEqual(['d3', 'd2', 'd1', 'd0']);
    expect(which(await list({ q: ids[2]!, line: LINE_B }))).toEqual(['d2']);
    // The symptom is searched too (each of these was opened as "other").
    expect(which(await list({ q: 'OTHER', line: LINE_A }))).toEqual(['d3', 'd1', 'd0']);
  });

  it('q: %, _ and the backslash are matched as themselves, never as patterns', async () => {
    // As LIKE patterns, "100%" would also find "1000", "serial_no" "serialXno", "%" everything.
    expect(which(await list({ q: `100% smudged ${tag}` }))).toEqual(['d0']);
    expect(which(await list({ q: `serial_no ${tag}` }))).toEqual(['d2']);
    expect(which(await list({ q: '%', line: LINE_A }))).toEqual(['d0']);
    expect(which(await list({ q: '_', line: LINE_B }))).toEqual(['d2']);
    expect(which(await list({ q: '\\', line: LINE_A }))).toEqual(['d1']);
    expect((await list({ q: '%%', line: LINE_A })).total).toBe(0);
  });

  it('combines with stage, severity and batch', async () => {
    expect(which(await list({ line: LINE_A, severity: 'major' }))).toEqual(['d0']);
    expect(which(await list({ q: tag, severity: 'critical', stage: 'containment' }))).toEqual(['d3']);
    expect(which(await list({ q: tag, stage: 'containment', line: LINE_B, batch: `B2${tag}` }))).toEqual(['d3']);
    expect(await list({ q: tag, stage: 'closed' })).toMatchObject({ items: [], total: 0 });
    expect(await list({ line: LINE_B, severity: 'minor' })).toMatchObject({ items: [], total: 0 });
  });

  it('refuses a bad filter with 400 problem+json naming it', async () => {
    const bad: Array<[Record<string, string>, string]> = [
      [{ q: 'x'.repeat(101) }, 'q'],
      [{ q: '   ' }, 'q'],
      [{ q: `a\u0000b` }, 'q'],
      [{ line: '' }, 'line'],
      [{ line: 'L'.repeat(51) }, 'line'],
      [{ line: `L1\nL2` }, 'line'],
      [{ limit: '0' }, 'limit'],
      [{ offset: '-1' }, 'offset'],
      [{ cursor: 'abc' }, ''],
    ];
    for (const [query, path] of bad) {
      const res = await request(stack.app).get('/deviations').set(auditor).query(query).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      if (path) expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    }
  });
});

describe('GET /deviations paging', () => {
  it('pages newest first; every page carries the total matching, and a page past the end is empty but still counts', async () => {
    const all = ['d3', 'd2', 'd1', 'd0'];
    const seen: string[] = [];
    for (const offset of [0, 3]) {
      const page = await list({ q: tag, limit: 3, offset });
      expect(page).toMatchObject({ total: 4, limit: 3, offset });
      seen.push(...which(page));
    }
    expect(seen).toEqual(all);
    expect(await list({ q: tag, limit: 3, offset: 4 })).toEqual({ items: [], total: 4, limit: 3, offset: 4 });
    expect(await list({ q: tag, limit: 3, offset: 1000 })).toEqual({ items: [], total: 4, limit: 3, offset: 1000 });
    // Without a limit, a page holds up to 100 (and says so).
    expect(await list({ line: LINE_A })).toMatchObject({ total: 3, limit: 100, offset: 0 });
  });

  it('keeps the fields of each item the board shows', async () => {
    const [item] = (await list({ q: `serial_no ${tag}` })).items;
    expect(item).toEqual({
      id: ids[2],
      title: OPENED[2].title,
      symptom: 'other',
      severity: 'major',
      stage: 'containment',
      status: 'open',
      batches: [`B1${tag}`],
      reportedBy: leadLogin,
      detectedAt: expect.any(String),
      updatedAt: expect.any(String),
      slaBreached: false,
      nextDueAt: expect.any(String),
      overdue: false,
      lines: [LINE_B],
      gtins: [],
      summary: expect.any(Object),
    });
  });
});
