/**
 * The web application end to end, in Debian's Chromium, against the real stack (API with the web
 * routes and the cookie session, worker, Temporal dev server, PostgreSQL) under the compressed
 * policy. The deviation opened in the first test is taken through its whole lifecycle by the
 * following ones, through the UI alone; the auditor then verifies it; every page is checked with
 * axe-core and photographed at 1280 and 768 px (tests/web/screenshots/).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { verifyEvidencePackage } from '../../audit/evidence/verify';
import { listen, type Listening } from '../api/raw-http';
import { as, createCast, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { createUser, type TestUser } from '../helpers/users';
import {
  L,
  launchChromium,
  localInputValue,
  screenshot,
  seriousViolations,
  servedApp,
  signIn,
  signedInPage,
  type AxeFinding,
  type Chromium,
} from './browser';

jest.setTimeout(240_000);

let stack: TestStack;
let server: Listening;
let base: string;
let cast: Cast;
let chrome: Chromium;
const contexts: BrowserContext[] = [];
const tag = randomBytes(3).toString('hex').toUpperCase();
const LOT = `LOT-W${tag}`;
let D = '';

async function pageFor(who: TestUser): Promise<Page> {
  const { context, page } = await signedInPage(chrome.browser, base, who);
  contexts.push(context);
  return page;
}

const api = () => request(stack.app);

beforeAll(async () => {
  chrome = await launchChromium();
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
  server = await listen(servedApp(stack.app), stack.config);
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await chrome?.close();
  await server?.close();
  await stack?.stop();
});

/** Opens the tab of the deviation page whose name starts with `name`. */
const tab = (page: Page, name: string | RegExp) => page.getByRole('tab', { name }).click();

async function openDeviationPage(page: Page, id = D): Promise<void> {
  await page.goto(`${base}/app/deviations/${id}`);
  await page.getByRole('heading', { name: id, level: 2 }).waitFor();
}

/** Signs the open task of `gate` from the deviation page's overview, in the signing dialog. */
async function signFromDeviationPage(page: Page, who: TestUser, gate: string): Promise<void> {
  await openDeviationPage(page);
  const task = page.locator(`[data-task="${gate}"]`);
  await task.getByRole('button', { name: 'Sign…' }).click({ timeout: 30_000 });
  await signInDialog(page, who);
}

async function signInDialog(page: Page, who: TestUser): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(L('Password')).fill(who.password);
  await dialog.getByRole('button', { name: /^Sign: / }).click();
  await dialog.getByText(/^Signed$/).waitFor({ timeout: 20_000 });
  await dialog.getByRole('button', { name: 'Close' }).first().click();
}

/** Waits until `check` stops throwing. */
const until = (check: () => Promise<unknown>, timeoutMs: number) =>
  eventually(
    async () => {
      await check();
      return true;
    },
    timeoutMs,
    250,
  );

const stageOf = async () => (await api().get(`/deviations/${D}`).set(as(cast.auditor))).body.stage as string;

describe('the web application, in Chromium', () => {
  it('a QA lead signs in (sent there from the page they asked for), opens a deviation through the form — a double click opens one — and sees it on the board with its containment countdown', async () => {
    const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/app/deviations/new`);
    await page.waitForURL(/\/app\/sign-in\?next=%2Fdeviations%2Fnew/);
    await page.getByLabel(L('User ID (login)')).fill(cast.qaLead.login);
    await page.getByLabel(L('Password')).fill(cast.qaLead.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/app/deviations/new`);

    // The session is a cookie the page cannot read.
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'gxp_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('gxp_session');

    // Inline validation from the shared schema: an empty form names its fields.
    await page.getByRole('button', { name: 'Open the deviation' }).click();
    await page.getByText('at least one affected batch').waitFor();

    await page.getByLabel(L('Title')).fill(`Duplicate serials on line W${tag}`);
    await page.getByLabel(L('Symptom')).selectOption('duplicate_serials');
    await page.getByLabel(L('Severity')).selectOption('major');
    await page.getByLabel(L('Affected batches (lots)')).fill(`${LOT}, ${LOT}`);
    await page.getByLabel(L('Packaging lines')).fill('L9');
    await page.getByLabel(L('Description')).fill('Aggregation report shows SGTINs commissioned twice.');
    await page.getByText('each batch is listed once').waitFor();
    await page.getByLabel(L('Affected batches (lots)')).fill(LOT);
    await page.getByRole('button', { name: 'Open the deviation' }).dblclick();
    await page.waitForURL(/\/app\/deviations\/DEV-\d{4}-\d{6,}$/);
    D = page.url().split('/').pop()!;

    await until(async () => {
      const listed = await api().get(`/deviations?batch=${LOT}`).set(as(cast.auditor));
      expect(listed.body.items.map((d: { id: string }) => d.id)).toEqual([D]);
    }, 20_000);

    await page.getByRole('link', { name: 'Deviation board' }).click();
    await page.getByLabel(L('Search')).fill(D);
    const row = page.locator(`[data-deviation="${D}"]`);
    await row.waitFor();
    const timer = row.getByRole('timer');
    const first = await timer.getAttribute('data-countdown');
    await page.waitForTimeout(1_300);
    const second = await timer.getAttribute('data-countdown');
    expect(Number(second)).toBeLessThan(Number(first));
    await expect(timer.getAttribute('aria-label')).resolves.toMatch(/^containment: .*(left|overdue by)/);
    await context.close();
  });

  it('the QA lead signs containment verification in the signing dialog; a wrong password first is refused with a message and nothing signed', async () => {
    const page = await pageFor(cast.qaLead);
    await openDeviationPage(page);
    await page.locator('[data-task="containment_verification"]').getByRole('button', { name: 'Sign…' }).click({ timeout: 30_000 });
    const dialog = page.getByRole('dialog');
    await expect(dialog.locator('[data-record-hash]').textContent()).resolves.toMatch(/^[0-9a-f]{64}$/);
    await expect(dialog.locator('[data-meaning]').textContent()).resolves.toBe('verified');
    await expect(dialog.locator('[data-legal]').textContent()).resolves.toMatch(/legally binding equivalent of my handwritten signature/);
    const shownHash = await dialog.locator('[data-record-hash]').textContent();

    await dialog.getByLabel(L('Password')).fill('not-the-password');
    await dialog.getByRole('button', { name: 'Sign: verified' }).click();
    await dialog.locator('[data-wrong-password]').waitFor();
    const open = await api().get(`/tasks/${D}.T1`).set(as(cast.auditor));
    expect(open.body).toMatchObject({ status: 'open', signatures: [] });
    await expect(page.url()).toContain(`/app/deviations/${D}`); // still signed in: a wrong signing password is not a lost session

    await dialog.getByLabel(L('Password')).fill(cast.qaLead.password);
    await dialog.getByRole('button', { name: 'Sign: verified' }).click();
    await dialog.getByText(/^Signed$/).waitFor({ timeout: 20_000 });
    await expect(dialog.locator('[data-signature]').textContent()).resolves.toContain(cast.qaLead.printedName);
    const signed = await api().get(`/tasks/${D}.T1`).set(as(cast.auditor));
    expect(signed.body.status).toBe('signed');
    expect(signed.body.signatures[0]).toMatchObject({ login: cast.qaLead.login, meaning: 'verified', recordHash: shownHash });
    await dialog.getByRole('button', { name: 'Close' }).first().click();
  });

  it('an investigator records a 5-Why and a fault tree, and the diagram shows the gates', async () => {
    await until(async () => expect(await stageOf()).toBe('investigation'), 30_000);
    const page = await pageFor(cast.investigator);
    await openDeviationPage(page);
    await tab(page, /^Investigation/);
    const rca = page.getByRole('region', { name: 'Record a root-cause analysis' });
    await rca.getByLabel(L('Problem')).fill('Serials commissioned twice');
    for (const [i, q, a] of [
      [1, 'Why twice?', 'The printer replayed its buffer'],
      [2, 'Why did it replay?', 'It restarted without clearing the queue'],
      [3, 'Why not cleared?', 'SOP-PKG-012 omits the step'],
    ] as const) {
      await rca.getByLabel(L(`Why ${i}: question`)).fill(q);
      await rca.getByLabel(L(`Why ${i}: answer`)).fill(a);
    }
    await rca.getByLabel(L('Root cause')).fill('SOP gap: print queue not cleared on restart');
    await rca.getByRole('button', { name: 'Record the analysis' }).click();
    const analyses = page.getByRole('region', { name: 'Root-cause analysis', exact: true });
    await analyses.locator('[data-rca="five_why"]').waitFor({ timeout: 20_000 });
    await expect(analyses.getByRole('list', { name: '5-Why chain' }).locator('li').count()).resolves.toBe(4);

    await rca.getByText('Fault tree', { exact: true }).click();
    for (let i = 0; i < 3; i++) await rca.getByRole('button', { name: 'Add a node' }).click();
    const nodes = [
      ['TOP', 'or', 'Duplicate serials shipped', 'G1, B3'],
      ['G1', 'and', 'Printed twice and not caught', 'B1, B2'],
      ['B1', 'basic', 'Printer replays buffer', ''],
      ['B2', 'basic', 'Vision check disabled', ''],
      ['B3', 'basic', 'Manual serial entry', ''],
    ];
    for (const [i, [id, type, text, children]] of nodes.entries()) {
      await rca.getByLabel(L(`Node ${i + 1} ID`)).fill(id!);
      await rca.getByLabel(L(`Node ${i + 1} type`)).selectOption(type!);
      await rca.getByLabel(L(`Node ${i + 1} label`)).fill(text!);
      if (children) await rca.getByLabel(L(`Node ${i + 1} children`)).fill(children);
    }
    await rca.getByLabel(L('Top event (ID)')).fill('TOP');
    await rca.getByLabel(L('Root causes (IDs of basic events)')).fill('B1');
    await rca.getByRole('button', { name: 'Record the analysis' }).click();
    const tree = analyses.locator('[data-rca="fault_tree"] svg[data-diagram="fault-tree"]');
    await tree.waitFor({ timeout: 20_000 });
    await expect(tree.locator('[data-gate="and"]').count()).resolves.toBe(1);
    await expect(tree.locator('[data-gate="or"]').count()).resolves.toBe(1);
    await expect(tree.locator('[data-gate="and"]').textContent()).resolves.toBe('AND');
    await expect(tree.locator('[data-root-cause="true"]').getAttribute('data-node')).resolves.toBe('B1');
    await expect(tree.getAttribute('aria-label')).resolves.toMatch(/G1 AND gate/);
    await screenshot(page, 'rca-fault-tree-1280');
  });

  it('an approver who is also the initiator is not offered the approval', async () => {
    const both = await createUser(stack.pool, { roles: ['qa_lead', 'qa_approver'] });
    const token = (await api().post('/auth/login').send({ login: both.login, password: both.password })).body.token as string;
    const bothAs = { Authorization: `Bearer ${token}` };
    const opened = await api()
      .post('/deviations')
      .set(bothAs)
      .send({
        title: 'Initiator approver check',
        symptom: 'other',
        severity: 'minor',
        batches: [`LOT-I${tag}`],
        description: 'Opened by a QA lead who also approves.',
      });
    const id = opened.body.id as string;
    const sign = async (t: Record<string, string>, login: string, password: string, gate: string) => {
      const task = await eventually(async () => {
        const r = await api().get(`/tasks?deviation=${id}&gate=${gate}`).set(t);
        expect(r.body.items.length).toBe(1);
        return r.body.items[0].id as string;
      }, 30_000);
      const res = await api().post(`/tasks/${task}/sign`).set(t).send({ meaning: 'verified', login, password });
      expect(res.status).toBe(201);
    };
    await sign(bothAs, both.login, both.password, 'containment_verification');
    await until(async () => expect((await api().get(`/deviations/${id}`).set(as(cast.auditor))).body.stage).toBe('investigation'), 30_000);
    const inv = as(cast.investigator);
    expect(
      (
        await api()
          .post(`/deviations/${id}/root-cause-analyses`)
          .set(inv)
          .send({
            analysis: {
              method: 'five_why',
              problem: 'p',
              whys: [
                { question: 'q', answer: 'a' },
                { question: 'q', answer: 'a' },
                { question: 'q', answer: 'a' },
              ],
              rootCause: 'r',
            },
          })
      ).status,
    ).toBe(200);
    expect(
      (
        await api()
          .post(`/deviations/${id}/risk-assessment`)
          .set(inv)
          .send({ assessment: { method: 'risk_class', riskClass: 'low', rationale: 'minor' } })
      ).status,
    ).toBe(200);
    expect((await api().post(`/deviations/${id}/investigation/report`).set(inv).send({ summary: 's', rootCause: 'r' })).status).toBe(200);

    const page = await pageFor(both);
    await openDeviationPage(page, id);
    const task = page.locator('[data-task="investigation_approval"]');
    await task.waitFor({ timeout: 30_000 });
    await expect(task.getByRole('button', { name: 'Sign…' }).count()).resolves.toBe(0);
    await expect(task.locator('[data-cannot-sign]').textContent()).resolves.toMatch(/the initiator of .* cannot sign/);
    // In the inbox too, the dialog is not offered.
    await page.getByRole('link', { name: 'My tasks' }).click();
    await page.getByRole('button', { name: `Sign Approve the investigation report and its root cause of ${id}` }).click();
    await page.getByRole('alert').filter({ hasText: 'the initiator' }).waitFor();
    await expect(page.getByRole('dialog').count()).resolves.toBe(0);
  });

  it('takes the deviation through investigation, CAPA, change control, effectiveness and the dual closure, through the UI alone', async () => {
    // Investigation: risk and report by the investigator.
    const inv = await pageFor(cast.investigator);
    await openDeviationPage(inv);
    await tab(inv, /^Investigation/);
    await inv.getByLabel(L('Severity (1–5)')).fill('4');
    await inv.getByLabel(L('Occurrence (1–5)')).fill('2');
    await inv.getByLabel(L('Detectability (1–5)')).fill('2');
    await inv
      .getByRole('region', { name: 'Assess the risk (FMEA)' })
      .getByLabel(L('Rationale'))
      .fill('Caught by reconciliation before shipping');
    await inv.getByRole('button', { name: 'Record the assessment' }).click();
    await inv.getByText(/RPN 16/).waitFor({ timeout: 20_000 });
    await inv.getByRole('region', { name: 'Submit the investigation report' }).getByLabel(L('Summary')).fill('Buffer replay after restart');
    await inv.getByRole('region', { name: 'Submit the investigation report' }).getByLabel(L('Root cause')).fill('SOP gap');
    await inv.getByRole('button', { name: 'Submit the report' }).click();
    await inv.getByText('Buffer replay after restart').waitFor({ timeout: 20_000 });

    // Approval from the approver's inbox.
    const a1 = await pageFor(cast.approver1);
    await a1.getByRole('link', { name: 'My tasks' }).click();
    await a1.getByRole('button', { name: `Sign Approve the investigation report and its root cause of ${D}` }).click({ timeout: 30_000 });
    await signInDialog(a1, cast.approver1);
    await until(async () => expect(await stageOf()).toBe('capa'), 30_000);

    // CAPA: a corrective action that opens a change control; plan approval; completion.
    const capa = await pageFor(cast.capaOwner);
    await openDeviationPage(capa);
    await tab(capa, /^Investigation/);
    const add = capa.getByRole('region', { name: 'Add a CAPA action' });
    await add.getByLabel(L('Type')).selectOption('corrective');
    await add.getByLabel(L('Description')).fill('Clear the print queue on restart');
    await add.getByLabel(L('Owner (login)')).fill(cast.capaOwner.login);
    await add.getByLabel(L('Due (your local time)')).fill(await localInputValue(capa, 10));
    await add.getByLabel(L('Opens a change control of kind')).selectOption('sop');
    await add.getByLabel(L('Change control description')).fill('Revise SOP-PKG-012');
    await add.getByRole('button', { name: 'Add the action' }).click();
    await capa.getByRole('table', { name: 'CAPA actions' }).getByText('Clear the print queue on restart').waitFor({ timeout: 20_000 });

    await signFromDeviationPage(a1, cast.approver1, 'capa_plan_approval');
    await openDeviationPage(capa);
    await tab(capa, /^Investigation/);
    const complete = capa.getByRole('region', { name: 'Complete a CAPA action' });
    await complete.getByLabel(L('Action')).selectOption('A1');
    await complete.getByLabel(L('Completion evidence')).fill('SOP-PKG-012 v5 approved');
    await complete.getByRole('button', { name: 'Complete the action' }).click();
    await until(async () => expect(await stageOf()).toBe('change_control'), 30_000);

    // Change control CC1: impact assessment, approval (signed), implementation, verification (signed).
    const val = await pageFor(cast.validation);
    await openDeviationPage(val);
    await tab(val, /^Investigation/);
    const impact = val.getByRole('region', { name: 'Impact assessment' });
    await impact.getByLabel(L('Systems affected')).fill('L9 line controller', { timeout: 30_000 });
    await impact.getByLabel(L('Summary')).fill('SOP only; validation status unchanged');
    await impact.getByRole('button', { name: 'Record the impact assessment' }).click();
    await val.getByText(/Impact: validation status not affected/).waitFor({ timeout: 20_000 });

    await openDeviationPage(a1);
    await tab(a1, /^Investigation/);
    await a1.getByRole('button', { name: 'Approve change control CC1…' }).click({ timeout: 30_000 });
    await signInDialog(a1, cast.approver1);

    const prod = await pageFor(cast.production);
    await openDeviationPage(prod);
    await tab(prod, /^Investigation/);
    await prod.getByLabel(L('What was implemented')).fill('Operators trained on SOP-PKG-012 v5', { timeout: 30_000 });
    await prod.getByRole('button', { name: 'Record the implementation' }).click();
    await prod.getByText(/Implemented: Operators trained/).waitFor({ timeout: 20_000 });

    const a2 = await pageFor(cast.approver2);
    await openDeviationPage(a2);
    await tab(a2, /^Investigation/);
    await a2.getByRole('button', { name: 'Verify change control CC1…' }).click({ timeout: 30_000 });
    await signInDialog(a2, cast.approver2);

    // Effectiveness: no batch on the line since, so the checks are inconclusive and QA decides.
    await until(async () => {
      const d = (await api().get(`/deviations/${D}`).set(as(cast.auditor))).body.deviation;
      expect(d.rounds.at(-1).effectiveness.decisionRequired).toBe(true);
    }, 90_000);
    const head = await pageFor(cast.qaHead);
    await openDeviationPage(head);
    await tab(head, /^Investigation/);
    const decide = head.getByRole('region', { name: 'Decide the effectiveness (not enough data)' });
    await decide.getByLabel(L('The CAPA was effective')).check();
    await decide.getByLabel(L('Rationale')).fill('No recurrence in three weeks of production');
    await decide.getByRole('button', { name: 'Record the decision' }).click();
    await signFromDeviationPage(a1, cast.approver1, 'effectiveness_verification');
    await until(async () => expect(await stageOf()).toBe('closure'), 30_000);

    // Closure: disposition of the held batch, then the dual approval by two different people.
    await openDeviationPage(a1);
    await tab(a1, 'Closure');
    const disposition = a1.getByRole('region', { name: 'Disposition of a held batch' });
    await disposition.getByLabel(L('Batch')).selectOption(LOT, { timeout: 30_000 });
    await disposition.getByLabel(L('Disposition')).selectOption('release');
    await disposition.getByLabel(L('Reason')).fill('Duplicates decommissioned');
    await disposition.getByRole('button', { name: 'Record the disposition' }).click();
    await until(async () => {
      const d = (await api().get(`/deviations/${D}`).set(as(cast.auditor))).body.deviation;
      expect(d.containment.holds[0].disposition).toBe('release');
    }, 30_000);
    await signFromDeviationPage(a1, cast.approver1, 'closure_approval');
    // The same person is not offered the second signature.
    await openDeviationPage(a1);
    await a1.locator('[data-task="closure_approval"] [data-cannot-sign]').waitFor({ timeout: 20_000 });
    await signFromDeviationPage(a2, cast.approver2, 'closure_approval');
    await until(async () => expect(await stageOf()).toBe('closed'), 30_000);

    await openDeviationPage(a2);
    await a2.locator('.rail li[data-state="done"]').filter({ hasText: 'closed' }).waitFor({ timeout: 20_000 });
    await tab(a2, 'Signatures');
    const rows = a2.locator('[data-signature-row]');
    await expect(rows.count()).resolves.toBeGreaterThanOrEqual(8);
    await expect(rows.first().textContent()).resolves.toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    await screenshot(a2, 'deviation-signatures-1280');
  });

  it('an auditor reads the history timeline, runs the replay and downloads the evidence package, whose manifest verifies', async () => {
    const page = await pageFor(cast.auditor);
    await page.getByRole('link', { name: "Auditor's view" }).click();
    await page.getByLabel(L('Deviation ID')).fill(D);
    await page.getByRole('button', { name: 'History, replay and evidence' }).click();
    const timeline = page.locator('[data-timeline]').first();
    await timeline.waitFor({ timeout: 30_000 });
    await expect(timeline.locator('[data-kind="signature"]').count()).resolves.toBeGreaterThanOrEqual(6);
    await expect(timeline.locator('[data-kind="timer"]').count()).resolves.toBeGreaterThan(0);
    await expect(timeline.locator('[data-kind="activity"]').count()).resolves.toBeGreaterThan(0);
    await expect(timeline.textContent()).resolves.toContain(cast.approver2.printedName);

    await page.getByRole('button', { name: 'Replay against the deployed code' }).click();
    const verdict = page.locator('[data-replay]');
    await verdict.waitFor({ timeout: 90_000 });
    await expect(verdict.getAttribute('data-replay')).resolves.toBe('ok');
    await expect(page.locator('[data-code-hash]').textContent()).resolves.toMatch(/^[0-9a-f]{64}$/);

    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.locator('[data-evidence-link]').click(),
    ]);
    const file = await download.path();
    const check = verifyEvidencePackage(readFileSync(file));
    expect(check).toMatchObject({ ok: true, problems: [] });
    expect(download.suggestedFilename()).toMatch(new RegExp(`^${D}-evidence-`));
    await screenshot(page, 'auditor-replay-1280');
  });

  it('every page passes axe-core with no serious or critical violation, and is photographed at 1280 and 768 px', async () => {
    const reviewer = await createUser(stack.pool, { roles: ['qa_lead', 'qa_head', 'admin'], printedName: 'Rae Reviewer' });
    const pages: Array<{ name: string; path: string; ready: (p: Page) => Promise<unknown> }> = [
      { name: 'board', path: '/app/', ready: (p) => p.locator(`[data-deviation]`).first().waitFor() },
      { name: 'open-deviation', path: '/app/deviations/new', ready: (p) => p.getByLabel(L('Title')).waitFor() },
      { name: 'deviation', path: `/app/deviations/${D}`, ready: (p) => p.getByRole('heading', { name: D }).waitFor() },
      {
        name: 'deviation-investigation',
        path: `/app/deviations/${D}`,
        ready: async (p) => (
          await p.getByRole('heading', { name: D }).waitFor(),
          await tab(p, /^Investigation/),
          p.locator('[data-rca="fault_tree"]').first().waitFor()
        ),
      },
      {
        name: 'tasks',
        path: '/app/tasks',
        ready: (p) =>
          p
            .getByRole('heading', { name: 'My tasks' })
            .waitFor()
            .then(() => p.getByText('Loading your tasks').waitFor({ state: 'detached' })),
      },
      {
        name: 'batches',
        path: `/app/batches?lot=${LOT}`,
        ready: (p) => p.getByText('Quantity balance').or(p.getByText('has not been reconciled yet')).first().waitFor({ timeout: 30_000 }),
      },
      {
        name: 'auditor',
        path: '/app/audit',
        ready: (p) => p.getByRole('table', { name: 'Audit trail entries' }).waitFor({ timeout: 30_000 }),
      },
      {
        name: 'auditor-deviation',
        path: `/app/audit/${D}`,
        ready: (p) => p.locator('[data-timeline]').first().waitFor({ timeout: 30_000 }),
      },
      { name: 'admin', path: '/app/admin', ready: (p) => p.getByRole('table', { name: 'Users' }).waitFor() },
      // (the Monitoring page, with charts and violations to show, is checked and photographed in e2e-keyboard-and-monitoring)
    ];
    const findings: AxeFinding[] = [];
    for (const width of [1280, 768]) {
      const context = await chrome.browser.newContext({ viewport: { width, height: 900 }, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${base}/app/sign-in`);
      await page.getByLabel(L('User ID (login)')).waitFor();
      findings.push(...(await seriousViolations(page, `sign-in@${width}`)));
      await screenshot(page, `sign-in-${width}`);
      await signIn(page, base, reviewer);
      for (const p of pages) {
        await page.goto(`${base}${p.path}`);
        await p.ready(page);
        await page.waitForTimeout(300);
        findings.push(...(await seriousViolations(page, `${p.name}@${width}`)));
        await screenshot(page, `${p.name}-${width}`);
      }
    }
    expect(findings).toEqual([]);
  });

  it('shows the signing dialog accessibly (axe) and photographs it', async () => {
    const page = await pageFor(cast.qaLead);
    const opened = await api()
      .post('/deviations')
      .set(as(cast.qaLead))
      .send({
        title: 'Dialog screenshot',
        symptom: 'aggregation_error',
        severity: 'critical',
        batches: [`LOT-S${tag}`],
        lines: ['L2'],
        description: 'For the signing dialog screenshot.',
      });
    D = opened.body.id;
    await openDeviationPage(page);
    await page.locator('[data-task="containment_verification"]').getByRole('button', { name: 'Sign…' }).click({ timeout: 30_000 });
    await page
      .getByRole('dialog')
      .locator('[data-record-hash]')
      .filter({ hasText: /^[0-9a-f]{64}$/ })
      .waitFor();
    expect(await seriousViolations(page, 'signing-dialog')).toEqual([]);
    await screenshot(page, 'signing-dialog-1280', false);
    await page.setViewportSize({ width: 768, height: 900 });
    await screenshot(page, 'signing-dialog-768', false);
  });
});
