/**
 * In Chromium, against the real stack: a keyboard-only pass (sign-in, the board, a deviation, the
 * inbox through the navigation), the focus visible at every step; and the Monitoring page with the
 * KPIs and an approved control chart with a point out of control, its drawing loaded, with no
 * serious accessibility violation, at 1280 and 768 px.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { ensureCharts, chartIdOf } from '../../monitoring/charts';
import { listen, type Listening } from '../api/raw-http';
import { as, createCast, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import { L, launchChromium, screenshot, seriousViolations, servedApp, signedInPage, type Chromium } from './browser';

jest.setTimeout(180_000);

const policy = compressedPolicy();
let stack: TestStack;
let server: Listening;
let base: string;
let cast: Cast;
let chrome: Chromium;
const contexts: BrowserContext[] = [];
const tag = randomBytes(3).toString('hex').toUpperCase();
let D = '';

/**
 * The control chart's points, written straight into batch_metrics as reconciliation would (as
 * tests/api/spc-charts.test.ts does): 25 around 5 per 10,000 for the baseline, then one far above.
 */
const chartLine = `L-KB-${tag}`;
const gtin = `0950600${String(randomInt(0, 10_000_000)).padStart(7, '0')}`;
const chartId = chartIdOf(chartLine, null, 'aggregation_error');
const N = 100_000;
const t0 = Date.parse('2026-01-05T06:00:00Z');
let points = 0;
let outOfControlLot = '';

async function addPoint(aggregationErrors: number): Promise<string> {
  const lot = `K${randomBytes(4).toString('hex')}`;
  const { rows } = await stack.pool.query<{ id: string }>(
    `INSERT INTO batches (gtin, lot, line, status) VALUES ($1, $2, $3, 'released') RETURNING id::text`,
    [gtin, lot, chartLine],
  );
  const batchId = rows[0]!.id;
  const reportId = `REC-${lot}`;
  const hash = randomBytes(32).toString('hex');
  await stack.pool.query(
    `INSERT INTO reconciliation_reports (id, batch_id, lot, gtin, content_hash, summary) VALUES ($1, $2, $3, $4, $5, $6)`,
    // the summary's counts as reconciliation writes them: the KPIs' discrepancy trend reads them
    [reportId, batchId, lot, gtin, hash, { balance: { commissioned: N }, discrepancies: { aggregation_error: aggregationErrors } }],
  );
  const at = new Date(t0 + points++ * 60_000);
  await stack.pool.query(
    `INSERT INTO batch_metrics (batch_id, line, gtin, lot, report_id, content_hash, commissioned, packed, rejected, sampled, destroyed,
                                unaccounted_units, duplicate_serial, aggregation_error, missing_report, lost_packaging, unaccounted,
                                first_recorded_at, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, 0, 0, 0, 0, $8, 0, 0, 0, $9, $9)`,
    [batchId, chartLine, gtin, lot, reportId, hash, N, aggregationErrors, at],
  );
  await ensureCharts(stack.pool, { line: chartLine, gtin }, policy.monitoring);
  return lot;
}

interface Focus {
  tag: string;
  text: string;
  href: string | null;
  label: string | null;
  /** Drawn with the app's focus ring: matches :focus-visible and has an outline. */
  ringed: boolean;
}

/** The element with the keyboard focus (null when it is the page itself), and whether its focus ring shows. */
const focused = (page: Page): Promise<Focus | null> =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      text: (el.textContent ?? '').trim().slice(0, 200),
      href: el.getAttribute('href'),
      label: (el as HTMLInputElement).labels?.[0]?.textContent?.trim() ?? null,
      ringed: el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    };
  });

/** Presses Tab until the focus is on what `wanted` accepts; fails when it never gets there. */
async function tabTo(page: Page, what: string, wanted: (f: Focus) => boolean, max = 120): Promise<Focus> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focused(page);
    if (f && wanted(f)) return f;
  }
  throw new Error(`Tab never reached ${what} in ${max} presses`);
}

beforeAll(async () => {
  chrome = await launchChromium();
  stack = await startStack({ policy });
  cast = await createCast(stack.app, stack.pool);
  server = await listen(servedApp(stack.app), stack.config);
  base = `http://127.0.0.1:${server.port}`;
  const opened = await request(stack.app)
    .post('/deviations')
    .set(as(cast.qaLead))
    .send({
      title: `Label misprint on line K${tag}`,
      symptom: 'aggregation_error',
      severity: 'minor',
      batches: [`LOT-K${tag}`],
      lines: ['L2'],
      description: 'Case labels printed with the wrong expiry.',
    });
  expect(opened.status).toBe(201);
  D = opened.body.id;
  await eventually(
    async () =>
      (await request(stack.app).get(`/deviations/${D}`).set(as(cast.auditor))).body.deviation?.stage === 'containment' ? true : undefined,
    30_000,
    250,
  );
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await chrome?.close();
  await server?.close();
  await stack?.stop();
});

describe('keyboard only', () => {
  it('signs in, opens a deviation from the board and the inbox from the navigation, the focus visible at every step', async () => {
    const context = await chrome.browser.newContext({
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
      timezoneId: 'Europe/Berlin',
    });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${base}/app/sign-in`);
    await page.getByLabel(L('User ID (login)')).waitFor();

    // The sign-in form starts in its first field.
    await expect(focused(page)).resolves.toMatchObject({ tag: 'input', label: expect.stringMatching(L('User ID (login)')) });
    await page.keyboard.type(cast.qaLead.login);
    await page.keyboard.press('Tab');
    const password = await focused(page);
    expect(password).toMatchObject({ tag: 'input', label: expect.stringMatching(L('Password')), ringed: true });
    await page.keyboard.type(cast.qaLead.password);
    await page.keyboard.press('Enter');
    await page.locator('[data-printed-name]').filter({ hasText: cast.qaLead.printedName }).waitFor({ timeout: 15_000 });
    await page.getByRole('heading', { name: 'Deviation board', level: 2 }).waitFor();

    // The board: Tab to the deviation's link, Enter opens it.
    await page.getByRole('link', { name: D }).waitFor({ timeout: 15_000 });
    const link = await tabTo(page, `the link to ${D}`, (f) => f.tag === 'a' && (f.href ?? '').endsWith(`/deviations/${D}`));
    expect(link).toMatchObject({ text: D, ringed: true });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: D, level: 2 }).waitFor({ timeout: 15_000 });
    expect(new URL(page.url()).pathname).toBe(`/app/deviations/${D}`);

    // The navigation: Tab to "My tasks", Enter opens the inbox; the link keeps the focus, ringed, and is the current page.
    const nav = await tabTo(page, 'the navigation link "My tasks"', (f) => f.tag === 'a' && f.text === 'My tasks');
    expect(nav.ringed).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'My tasks', level: 2 }).waitFor({ timeout: 15_000 });
    expect(new URL(page.url()).pathname).toBe('/app/tasks');
    await expect(focused(page)).resolves.toMatchObject({ tag: 'a', text: 'My tasks', ringed: true });
    await expect(page.evaluate(() => document.activeElement?.getAttribute('aria-current'))).resolves.toBe('page');
  });
});

describe('the Monitoring page', () => {
  beforeAll(async () => {
    for (let i = 0; i < 25; i++) await addPoint(50 + [-6, 6, -3, 3, 0][i % 5]!);
    await request(stack.app)
      .post(`/spc/charts/${encodeURIComponent(chartId)}/baseline`)
      .set(as(cast.qaHead))
      .send({ meaning: 'approved', login: cast.qaHead.login, password: cast.qaHead.password })
      .expect(201);
    outOfControlLot = await addPoint(200);
  });

  it('shows the KPIs, lists the charts, draws the chosen one with its violations, with no serious accessibility violation', async () => {
    const { context, page } = await signedInPage(chrome.browser, base, cast.auditor);
    contexts.push(context);
    await page.goto(`${base}/app/monitoring?line=${encodeURIComponent(chartLine)}`);

    const kpis = page.getByRole('region', { name: 'Key performance indicators' });
    await kpis.getByRole('figure', { name: 'Open deviations' }).waitFor({ timeout: 15_000 });
    // The deviation opened above is open at the window's end.
    expect(Number(await kpis.getByRole('figure', { name: 'Open deviations' }).locator('p').first().textContent())).toBeGreaterThanOrEqual(
      1,
    );
    await kpis.getByRole('table', { name: 'Open by severity' }).waitFor();

    const list = page.getByRole('table', { name: 'Control charts' });
    await list.waitFor({ timeout: 15_000 });
    const row = list.getByRole('row').filter({ hasText: 'all products' }).filter({ hasText: 'approved' });
    await expect(row.getByRole('cell').nth(5).textContent()).resolves.toBe('1');
    await row.getByRole('button', { name: /^Show the chart/ }).click();

    const shown = page.getByRole('region', { name: 'The chosen control chart' });
    const image = shown.getByRole('img', { name: /^Control chart of .* on line L-KB-/ });
    await image.waitFor({ timeout: 15_000 });
    await expect(image.getAttribute('alt')).resolves.toMatch(/26 point\(s\), centre line .*; 1 rule violation\(s\), listed below\.$/);
    await eventually(
      async () => ((await image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)) ? true : undefined),
      10_000,
      100,
    );
    expect(await image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);

    const violations = shown.getByRole('table', { name: 'Rule violations' });
    await expect(violations.getByRole('row').count()).resolves.toBe(2);
    await expect(violations.getByRole('link', { name: outOfControlLot, exact: true }).getAttribute('href')).resolves.toBe(
      `/app/batches?lot=${outOfControlLot}`,
    );
    await expect(
      violations.getByRole('link', { name: `Deviations of lot ${outOfControlLot} on the board` }).getAttribute('href'),
    ).resolves.toBe(`/app?batch=${outOfControlLot}`);

    expect(await seriousViolations(page, 'monitoring')).toEqual([]);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'monitoring-1280');
    await page.setViewportSize({ width: 768, height: 900 });
    await image.evaluate((img: HTMLImageElement) => img.decode());
    expect(await seriousViolations(page, 'monitoring-768')).toEqual([]);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'monitoring-768');
  });
});
