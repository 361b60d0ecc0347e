/**
 * Suspect product through the deviation page, in Chromium, against the real stack under the
 * compressed policy (a 10-second regulatory window): an investigator reports it through its form,
 * the regulatory clock counts down, a QA lead records the notification through its form and the
 * clock reads notified. Roles the routes do not let through are offered neither form.
 */
import { randomBytes } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { listen, type Listening } from '../api/raw-http';
import { as, createCast, type Cast } from '../helpers/actors';
import { compressedPolicy, eventually, startStack, type TestStack } from '../helpers/stack';
import type { TestUser } from '../helpers/users';
import { L, launchChromium, screenshot, seriousViolations, servedApp, signedInPage, type Chromium } from './browser';

jest.setTimeout(180_000);

let stack: TestStack;
let server: Listening;
let base: string;
let cast: Cast;
let chrome: Chromium;
const contexts: BrowserContext[] = [];
const tag = randomBytes(3).toString('hex').toUpperCase();
let D = '';

const CLOCK = 'Regulatory clock: EU FMD (suspected falsified)';

async function deviationPageFor(who: TestUser): Promise<Page> {
  const { context, page } = await signedInPage(chrome.browser, base, who);
  contexts.push(context);
  await page.goto(`${base}/app/deviations/${D}`);
  await page.getByRole('heading', { name: D, level: 2 }).waitFor();
  return page;
}

const deviation = async () => (await request(stack.app).get(`/deviations/${D}`).set(as(cast.auditor))).body.deviation;

beforeAll(async () => {
  chrome = await launchChromium();
  stack = await startStack({ policy: compressedPolicy() });
  cast = await createCast(stack.app, stack.pool);
  server = await listen(servedApp(stack.app), stack.config);
  base = `http://127.0.0.1:${server.port}`;
  const opened = await request(stack.app)
    .post('/deviations')
    .set(as(cast.qaLead))
    .send({
      title: `Falsified packs suspected on line P${tag}`,
      symptom: 'duplicate_serials',
      severity: 'critical',
      batches: [`LOT-P${tag}`],
      lines: ['L4'],
      description: 'Serials reported as already decommissioned by the EMVS.',
    });
  expect(opened.status).toBe(201);
  D = opened.body.id;
  await eventually(async () => ((await deviation())?.stage === 'containment' ? true : undefined), 30_000, 250);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await chrome?.close();
  await server?.close();
  await stack?.stop();
});

describe('suspect product on the deviation page', () => {
  it('an investigator reports a suspect product through the form (a finding that does not fit the framework is named at its field) and sees the regulatory clock count down', async () => {
    const page = await deviationPageFor(cast.investigator);
    await page.getByRole('button', { name: 'Report a suspect product…' }).click({ timeout: 30_000 });
    const form = page.getByRole('region', { name: 'Report a suspect product' });
    await form.getByLabel(L('Framework')).selectOption('eu_fmd');
    await form.getByLabel(L('Finding')).selectOption('illegitimate');
    await form.getByLabel(L('Details')).fill('Three packs of the lot answered "already decommissioned" at the pharmacy.');
    await form.getByRole('button', { name: 'Report the suspect product' }).click();
    await form.getByText('DSCSA findings are "illegitimate"; EU FMD findings are "suspected_falsified"').waitFor();
    expect((await deviation()).regulatory).toEqual([]);
    expect(await seriousViolations(page, 'suspect-product-form')).toEqual([]);

    await form.getByLabel(L('Finding')).selectOption('suspected_falsified');
    await form.getByRole('button', { name: 'Report the suspect product' }).click();
    const clock = page.getByRole('region', { name: CLOCK });
    const timer = clock.getByRole('timer');
    await timer.waitFor({ timeout: 20_000 });
    const first = Number(await timer.getAttribute('data-countdown'));
    await page.waitForTimeout(1_300);
    expect(Number(await timer.getAttribute('data-countdown'))).toBeLessThan(first);
    await expect(timer.getAttribute('aria-label')).resolves.toMatch(/^regulatory notification: .*(left|overdue by)/);
    await expect(clock.textContent()).resolves.toContain('required: national competent authority');
    expect((await deviation()).regulatory).toMatchObject([{ framework: 'eu_fmd', reportedBy: cast.investigator.login, notifications: [] }]);

    // Recording the notification is QA's: the investigator who reported is not offered it.
    await expect(page.getByRole('region', { name: 'Record a regulatory notification' }).count()).resolves.toBe(0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'deviation-regulatory-1280');
  });

  it('a CAPA owner sees the running clock but is offered neither form', async () => {
    const page = await deviationPageFor(cast.capaOwner);
    await page.getByRole('region', { name: CLOCK }).getByRole('timer').waitFor({ timeout: 20_000 });
    // The extension request is theirs to make: the page knows their rights by now.
    await page.getByRole('button', { name: 'Request a due-date extension…' }).waitFor();
    await expect(page.getByRole('button', { name: 'Report a suspect product…' }).count()).resolves.toBe(0);
    await expect(page.getByRole('region', { name: 'Record a regulatory notification' }).count()).resolves.toBe(0);
  });

  it('a QA lead records the notification through its form, and the clock reads notified', async () => {
    const page = await deviationPageFor(cast.qaLead);
    const form = page.getByRole('region', { name: 'Record a regulatory notification' });
    await form.getByText('Still to notify: national competent authority.').waitFor({ timeout: 20_000 });
    await form.getByLabel(L('Recipient')).selectOption('national_competent_authority');
    await form.getByLabel(L('Reference')).fill(`NCA-${tag}`);
    await form.getByLabel(L('Summary')).fill('Reported to the national competent authority by its portal.');
    await form.getByRole('button', { name: 'Record the notification' }).click();

    const clock = page.getByRole('region', { name: CLOCK });
    await clock.getByText('notified', { exact: true }).waitFor({ timeout: 20_000 });
    await expect(clock.getByRole('timer').count()).resolves.toBe(0);
    await expect(clock.textContent()).resolves.toContain(`national competent authority — NCA-${tag}`);
    const [r] = (await deviation()).regulatory;
    expect(r).toMatchObject({
      completedAt: expect.any(String),
      notifications: [{ recipient: 'national_competent_authority', recordedBy: cast.qaLead.login }],
    });
    // Nothing is outstanding any more, so the form is gone.
    await form.waitFor({ state: 'detached', timeout: 10_000 });
  });
});
