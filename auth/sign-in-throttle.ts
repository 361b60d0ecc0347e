import { isIPv4, isIPv6 } from 'node:net';
import { withTransaction, type Pool, type PoolClient } from '../db/pool';
import { storableCopy } from '../domain/text';
import { loadConfig, type AppConfig } from '../lib/config';
import { recordSecurityEvent } from './security-log';

/**
 * Throttling and lockout of password checks (21 CFR 11.300(d)): at sign-in and where people give
 * their current password to change it. Two counters apply to every attempt, one per typed login
 * and one per client address; when either reaches its limit within the window it is locked, and
 * while locked every attempt is refused before the password is hashed (a hash costs ~180 ms of CPU
 * and 32 MiB), even with the right password. The counters live in PostgreSQL so that every API
 * process shares them, and an attempt is admitted under the counters' row locks, counted as
 * pending while it hashes: concurrent attempts cannot run more checks than the limit.
 */
export interface SignInPolicy {
  maxFailuresPerLogin: number;
  maxFailuresPerAddress: number;
  windowMinutes: number;
  lockMinutes: number;
}

export function signInPolicy(
  config: Pick<AppConfig, 'SIGN_IN_MAX_FAILURES' | 'SIGN_IN_ADDRESS_MAX_FAILURES' | 'SIGN_IN_WINDOW_MINUTES' | 'SIGN_IN_LOCK_MINUTES'>,
): SignInPolicy {
  return {
    maxFailuresPerLogin: config.SIGN_IN_MAX_FAILURES,
    maxFailuresPerAddress: config.SIGN_IN_ADDRESS_MAX_FAILURES,
    windowMinutes: config.SIGN_IN_WINDOW_MINUTES,
    lockMinutes: config.SIGN_IN_LOCK_MINUTES,
  };
}

/** The configuration's defaults (5 per login, 20 per address, 15 minutes), for callers without a configuration. */
export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = signInPolicy(loadConfig({}));

type Scope = 'login' | 'address';

/** Longest key kept (the table's CHECK); logins longer than any real one share their prefix's counter. */
const MAX_KEY_LENGTH = 320;

/** The login counter's key: the login as the user lookup reads it, whether or not it names anybody. */
export function loginKey(login: string): string {
  return storableCopy(login.trim().toLowerCase().slice(0, MAX_KEY_LENGTH));
}

/**
 * The address counter's key. IPv4-mapped addresses count as IPv4; an IPv6 client counts by its
 * /64, since anybody holding one address of a /64 usually holds all of it.
 */
export function addressKey(remoteAddress: string | null | undefined): string {
  if (!remoteAddress) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (isIPv4(remoteAddress)) return remoteAddress;
  if (isIPv6(remoteAddress)) return `${ipv6Prefix64(remoteAddress)}::/64`;
  return storableCopy(remoteAddress.slice(0, 64));
}

function ipv6Prefix64(address: string): string {
  const [left = '', right] = address.split('%')[0]!.split('::');
  // A trailing dotted quad stands for two groups.
  const groups = (part: string) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const head = groups(left);
  const tail = right === undefined ? [] : groups(right);
  const full = right === undefined ? head : [...head, ...Array<string>(Math.max(8 - head.length - tail.length, 0)).fill('0'), ...tail];
  return full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':');
}

/** One counter as read under its row lock; a window that has run out already reads as empty. */
export interface Counter {
  scope: Scope;
  failures: number;
  pending: number;
  lockedForSeconds: number | null;
  windowOver: boolean;
}

/**
 * What happens to a counter: `admit` lets a check start, `fail` records a check that failed,
 * `refuse` counts a refused attempt against the address, `pass` a check that succeeded (which
 * clears the login's failures, never the address's: one's own account must not wipe the address
 * clean between guesses at others), `abandon` a check that never finished.
 */
export type Step = 'admit' | 'fail' | 'refuse' | 'pass' | 'abandon';

export interface CounterChange {
  failures: number;
  pending: number;
  restartWindow: boolean;
  /** Set when this step reaches the limit: the counter locks, and its count starts again. */
  lock: boolean;
  /** The failures counted, including this one, before a lock starts them again. */
  counted: number;
}

/** The pure rule: the counter after a step, given its limit. */
export function nextCounter(counter: Counter, step: Step, maxFailures: number): CounterChange {
  const failed = step === 'fail' || step === 'refuse';
  const counted = failed ? counter.failures + 1 : step === 'pass' && counter.scope === 'login' ? 0 : counter.failures;
  const pending = step === 'admit' ? counter.pending + 1 : step === 'refuse' ? counter.pending : Math.max(counter.pending - 1, 0);
  const lock = failed && counted >= maxFailures && counter.lockedForSeconds === null;
  return { failures: lock ? 0 : counted, pending, restartWindow: counter.windowOver || lock, lock, counted };
}

/** Seconds until the counter admits another check; null when it admits one now. */
export function waitBeforeNextCheck(counter: Counter, maxFailures: number): number | null {
  if (counter.lockedForSeconds !== null) return counter.lockedForSeconds;
  // Checks under way will fill the count or free it within about a second.
  if (counter.failures + counter.pending >= maxFailures) return 1;
  return null;
}

interface CounterRow {
  scope: Scope;
  failures: number;
  pending: number;
  lockedForSeconds: number | null;
  windowOver: boolean;
}

interface Keys {
  login: string;
  address: string;
}

/**
 * Both counters of an attempt, locked for the transaction. Rows are created and locked address
 * first, then login (the VALUES order), in every transaction, so two attempts never wait for each
 * other in a circle.
 */
async function lockCounters(client: PoolClient, keys: Keys, policy: SignInPolicy): Promise<Record<Scope, Counter>> {
  // DO UPDATE (a no-op) rather than DO NOTHING: it locks an existing row at once, so no pruning
  // transaction can delete it between this statement and the next.
  await client.query(
    `INSERT INTO sign_in_throttle AS t (scope, key) VALUES ('address', $1), ('login', $2)
     ON CONFLICT (scope, key) DO UPDATE SET pending = t.pending`,
    [keys.address, keys.login],
  );
  const { rows } = await client.query<CounterRow>(
    `SELECT scope, failures, pending,
            window_started_at <= now() - make_interval(mins => $3) AS "windowOver",
            CASE WHEN locked_until > now() THEN ceil(extract(epoch FROM locked_until - now()))::int END AS "lockedForSeconds"
       FROM sign_in_throttle
      WHERE (scope = 'address' AND key = $1) OR (scope = 'login' AND key = $2)
      ORDER BY scope
        FOR UPDATE`,
    [keys.address, keys.login, policy.windowMinutes],
  );
  const byScope = new Map(rows.map((row) => [row.scope, row.windowOver ? { ...row, failures: 0, pending: 0 } : row]));
  const counter = (scope: Scope) => byScope.get(scope) ?? { scope, failures: 0, pending: 0, lockedForSeconds: null, windowOver: true };
  return { address: counter('address'), login: counter('login') };
}

export interface NewLock {
  scope: Scope;
  failures: number;
  lockedUntil: Date;
}

function maxFor(scope: Scope, policy: SignInPolicy): number {
  return scope === 'login' ? policy.maxFailuresPerLogin : policy.maxFailuresPerAddress;
}

/** Writes one counter's step; returns the lock it imposed, if any. */
async function applyStep(client: PoolClient, keys: Keys, counter: Counter, step: Step, policy: SignInPolicy): Promise<NewLock | null> {
  const change = nextCounter(counter, step, maxFor(counter.scope, policy));
  const { rows } = await client.query<{ lockedUntil: Date | null }>(
    `UPDATE sign_in_throttle
        SET failures = $3, pending = $4,
            window_started_at = CASE WHEN $5 THEN now() ELSE window_started_at END,
            locked_until = CASE WHEN $6 THEN now() + make_interval(mins => $7) ELSE locked_until END
      WHERE scope = $1 AND key = $2
      RETURNING locked_until AS "lockedUntil"`,
    [counter.scope, keys[counter.scope], change.failures, change.pending, change.restartWindow, change.lock, policy.lockMinutes],
  );
  const lockedUntil = rows[0]?.lockedUntil;
  return change.lock && lockedUntil ? { scope: counter.scope, failures: change.counted, lockedUntil } : null;
}

/**
 * Deletes a few counters whose window and lock are both over (they read as empty anyway), so
 * logins sprayed at random do not grow the table for ever. SKIP LOCKED: never waits for anybody.
 */
async function pruneStaleCounters(client: PoolClient, policy: SignInPolicy): Promise<void> {
  await client.query(
    `DELETE FROM sign_in_throttle
      WHERE (scope, key) IN (
        SELECT scope, key FROM sign_in_throttle
         WHERE window_started_at < now() - make_interval(mins => $1)
           AND (locked_until IS NULL OR locked_until <= now())
         ORDER BY window_started_at
         LIMIT 20
           FOR UPDATE SKIP LOCKED)`,
    [policy.windowMinutes],
  );
}

export interface PasswordAttempt {
  /** The login as typed at sign-in, or the user's own at a password change. */
  login: string;
  /** The user the login names, when it names one (for the security log only). */
  userId: string | null;
  remoteAddress: string | null | undefined;
  via: 'sign_in' | 'password_change';
}

export type GuardedCheck = { status: 'passed' } | { status: 'failed' } | { status: 'throttled'; retryAfterSeconds: number };

type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number; scope: Scope; locks: NewLock[] };

/**
 * Lets a check start, or refuses it. A refusal because of the login still counts against the
 * address (an address that keeps trying a locked login is guessing); a refusal because of the
 * address changes nothing.
 */
async function admit(client: PoolClient, keys: Keys, policy: SignInPolicy): Promise<Admission> {
  const counters = await lockCounters(client, keys, policy);
  const addressWait = waitBeforeNextCheck(counters.address, policy.maxFailuresPerAddress);
  const loginWait = waitBeforeNextCheck(counters.login, policy.maxFailuresPerLogin);
  if (addressWait !== null) {
    return { admitted: false, retryAfterSeconds: Math.max(addressWait, loginWait ?? 0), scope: 'address', locks: [] };
  }
  if (loginWait !== null) {
    const lock = await applyStep(client, keys, counters.address, 'refuse', policy);
    const lockedFor = lock ? policy.lockMinutes * 60 : 0;
    return { admitted: false, retryAfterSeconds: Math.max(loginWait, lockedFor), scope: 'login', locks: lock ? [lock] : [] };
  }
  await applyStep(client, keys, counters.address, 'admit', policy);
  await applyStep(client, keys, counters.login, 'admit', policy);
  return { admitted: true };
}

async function settle(client: PoolClient, keys: Keys, step: 'fail' | 'pass' | 'abandon', policy: SignInPolicy): Promise<NewLock[]> {
  const counters = await lockCounters(client, keys, policy);
  const locks = [
    await applyStep(client, keys, counters.address, step, policy),
    await applyStep(client, keys, counters.login, step, policy),
  ].filter((lock): lock is NewLock => lock !== null);
  await pruneStaleCounters(client, policy);
  return locks;
}

async function recordLocks(client: PoolClient, attempt: PasswordAttempt, locks: NewLock[], policy: SignInPolicy): Promise<void> {
  for (const lock of locks) {
    await recordSecurityEvent(
      client,
      'login_locked',
      { userId: lock.scope === 'login' ? attempt.userId : null, login: attempt.login, remoteAddress: attempt.remoteAddress },
      {
        scope: lock.scope,
        via: attempt.via,
        failures: lock.failures,
        lockedUntil: lock.lockedUntil.toISOString(),
        lockMinutes: policy.lockMinutes,
      },
    );
  }
}

/**
 * Runs one password check under the throttle. `check` resolves to null when the password is right,
 * or to the failure's reason for the security log; it is not called at all when the attempt is
 * refused. Every failure, lock and refusal goes to the security log in the same transaction as the
 * counters it changed.
 */
export async function guardPasswordCheck(
  pool: Pool,
  attempt: PasswordAttempt,
  policy: SignInPolicy,
  check: () => Promise<string | null>,
): Promise<GuardedCheck> {
  const keys = { login: loginKey(attempt.login), address: addressKey(attempt.remoteAddress) };
  const who = { userId: attempt.userId, login: attempt.login, remoteAddress: attempt.remoteAddress };
  const admission = await withTransaction(pool, async (client) => {
    const result = await admit(client, keys, policy);
    if (!result.admitted) {
      await recordSecurityEvent(client, 'login_throttled', who, {
        scope: result.scope,
        via: attempt.via,
        retryAfterSeconds: result.retryAfterSeconds,
      });
      await recordLocks(client, attempt, result.locks, policy);
    }
    return result;
  });
  if (!admission.admitted) return { status: 'throttled', retryAfterSeconds: admission.retryAfterSeconds };

  let reason: string | null;
  try {
    reason = await check();
  } catch (err) {
    await withTransaction(pool, (client) => settle(client, keys, 'abandon', policy));
    throw err;
  }
  if (reason === null) {
    await withTransaction(pool, (client) => settle(client, keys, 'pass', policy));
    return { status: 'passed' };
  }
  await withTransaction(pool, async (client) => {
    const locks = await settle(client, keys, 'fail', policy);
    await recordSecurityEvent(client, attempt.via === 'sign_in' ? 'login_failed' : 'password_change_failed', who, { reason });
    await recordLocks(client, attempt, locks, policy);
  });
  return { status: 'failed' };
}
