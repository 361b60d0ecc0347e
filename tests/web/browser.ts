/**
 * The browser side of the web tests: Debian's Chromium driven by playwright-core, the real API
 * (with the web routes and the cookie session) listening on a port, and helpers to sign in, check
 * accessibility with axe-core and write screenshots.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import express, { type Express } from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { sessionCookies } from '../../api/session-cookie';
import { webRoutes } from '../../api/web';

/** A label, exactly, with or without the required-field asterisk the component library adds. */
export const L = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`);

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(__dirname, 'screenshots');

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}. The browser tests drive Debian's chromium package: ` +
        '`sudo apt-get install -y chromium` (npm test installs it when run as root), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
}

/**
 * The API as it is served: the web app and the cookie session in front of the API's own routes.
 * (When api/app.ts mounts both itself, mounting them here again changes nothing: the first
 * sessionCookies() hands the cookie on as a Bearer token and the second sees a Bearer client.)
 */
export function servedApp(api: Express): Express {
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(webRoutes());
  outer.use(sessionCookies());
  outer.use(api);
  return outer;
}

export interface Chromium {
  browser: Browser;
  close(): Promise<void>;
}

/** Chromium with a new, empty profile (playwright's launch makes one in a temporary directory and removes it at close). */
export async function launchChromium(): Promise<Chromium> {
  requireChromium();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { browser, close: () => browser.close() };
}

export interface Person {
  login: string;
  password: string;
  printedName: string;
}

/** A browser context of its own (its own cookie jar) for one person, signed in through the form. */
export async function signedInPage(
  browser: Browser,
  base: string,
  who: Person,
  width = 1280,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    acceptDownloads: true,
    locale: 'en-GB',
    timezoneId: 'Europe/Berlin',
  });
  const page = await context.newPage();
  await signIn(page, base, who);
  return { context, page };
}

export async function signIn(page: Page, base: string, who: Person, next = '/'): Promise<void> {
  await page.goto(`${base}/app/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel(L('User ID (login)')).fill(who.login);
  await page.getByLabel(L('Password')).fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-printed-name]').filter({ hasText: who.printedName }).waitFor({ timeout: 15_000 });
}

export interface AxeFinding {
  page: string;
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** Serious and critical WCAG 2.1 A/AA violations on the page as it is now. */
export async function seriousViolations(page: Page, name: string): Promise<AxeFinding[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ page: name, id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => String(n.target)) }));
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Local wall-clock time `days` from now as a datetime-local input value, in the page's zone. */
export async function localInputValue(page: Page, daysFromNow: number): Promise<string> {
  return page.evaluate((days) => {
    const d = new Date(Date.now() + days * 86_400_000);
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, daysFromNow);
}
