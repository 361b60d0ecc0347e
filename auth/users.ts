import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool, type Queryable } from '../db/pool';
import { passwordProblems, type CreateUserRequest, type UpdateUserRequest } from '../domain/users';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords';
import { revokeUserSessions } from './sessions';
import { DEFAULT_SIGN_IN_POLICY, guardPasswordCheck, type SignInPolicy } from './sign-in-throttle';
import { USER_COLUMNS, type UserView } from './types';

export class LoginTakenError extends Error {
  constructor(readonly login: string) {
    super(`The login ${login} is taken.`);
  }
}

/** Refused because no active administrator would remain to manage users. */
export class LastAdminError extends Error {
  constructor() {
    super('This change would leave no active administrator.');
  }
}

export class PasswordPolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(`The password does not meet the policy: ${problems.join('; ')}.`);
  }
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/** The policy's verdict first, then the hash: nothing is hashed for a password that will be refused. */
async function hashForNewUser(input: CreateUserRequest): Promise<string> {
  const problems = passwordProblems(input.password, input);
  if (problems.length) throw new PasswordPolicyError(problems);
  return hashPassword(input.password);
}

async function insertUser(db: Queryable, input: CreateUserRequest, passwordHash: string): Promise<UserView> {
  try {
    const { rows } = await db.query<UserView>(
      `INSERT INTO users (login, printed_name, email, roles, password_hash) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${USER_COLUMNS}`,
      [input.login, input.printedName, input.email, input.roles, passwordHash],
    );
    return rows[0]!;
  } catch (err) {
    if (isUniqueViolation(err)) throw new LoginTakenError(input.login);
    throw err;
  }
}

/**
 * Creates a user from an already validated request (domain/users.ts createUserSchema), without an
 * audit row: for callers that write their own in the same transaction (createUserWithAudit,
 * bootstrapAdmin) and for test fixtures.
 */
export async function createUser(db: Queryable, input: CreateUserRequest): Promise<UserView> {
  return insertUser(db, input, await hashForNewUser(input));
}

/** Creates a user and its `user.created` audit row in one transaction. */
export async function createUserWithAudit(pool: Pool, input: CreateUserRequest, actor: string): Promise<UserView> {
  // Hashed before the transaction opens: ~180 ms nobody needs to hold a connection for.
  const passwordHash = await hashForNewUser(input);
  return withTransaction(pool, async (client) => {
    const user = await insertUser(client, input, passwordHash);
    await appendAudit(client, { actor, action: 'user.created', entityType: 'user', entityId: user.id, after: user });
    return user;
  });
}

export async function listUsers(db: Queryable): Promise<UserView[]> {
  const { rows } = await db.query<UserView>(`SELECT ${USER_COLUMNS} FROM users ORDER BY login`);
  return rows;
}

export async function getUser(db: Queryable, id: string): Promise<UserView | null> {
  const { rows } = await db.query<UserView>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * Changes a user's name, e-mail, roles or active flag, with its `user.updated` audit row (before and
 * after) in the same transaction. Deactivating ends their sessions at once; role changes apply from
 * their next request (sessions read roles on every request).
 */
export async function updateUser(pool: Pool, id: string, patch: UpdateUserRequest, actor: string): Promise<UserView | null> {
  return withTransaction(pool, async (client) => {
    // Lock the active administrators first: two admins demoting each other at once must not both succeed.
    await client.query(`SELECT id FROM users WHERE active AND 'admin' = ANY (roles) ORDER BY id FOR UPDATE`);
    const { rows: found } = await client.query<UserView>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [id]);
    const before = found[0];
    if (!before) return null;
    const { rows } = await client.query<UserView>(
      `UPDATE users
          SET printed_name = COALESCE($2, printed_name),
              email        = COALESCE($3, email),
              roles        = COALESCE($4, roles),
              active       = COALESCE($5, active),
              updated_at   = now()
        WHERE id = $1
        RETURNING ${USER_COLUMNS}`,
      [id, patch.printedName ?? null, patch.email ?? null, patch.roles ?? null, patch.active ?? null],
    );
    const user = rows[0]!;
    const { rows: admins } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM users WHERE active AND 'admin' = ANY (roles)`,
    );
    if (admins[0]!.n === 0) throw new LastAdminError();
    const sessionsEnded = patch.active === false ? await revokeUserSessions(client, id) : 0;
    await appendAudit(client, {
      actor,
      action: 'user.updated',
      entityType: 'user',
      entityId: id,
      before,
      after: user,
      details: { changed: Object.keys(patch).sort(), sessionsEnded },
    });
    return user;
  });
}

interface Credentials {
  id: string;
  login: string;
  printed_name: string;
  password_hash: string;
  active: boolean;
  password_must_change: boolean;
}

const CREDENTIAL_COLUMNS = 'id, login, printed_name, password_hash, active, password_must_change';

export type SignInResult = { status: 'ok'; user: UserView } | { status: 'wrong' } | { status: 'throttled'; retryAfterSeconds: number };

/**
 * Checks a login and password, under the sign-in throttle (auth/sign-in-throttle.ts). Every
 * failure looks the same to the caller ('wrong') and takes about the same time; the reason goes to
 * the security log only. A throttled attempt is refused without hashing anything, and a lock
 * applies to logins that name nobody just as to real ones, so neither tells who exists.
 */
export async function signIn(
  pool: Pool,
  login: string,
  password: string,
  remoteAddress?: string | null,
  policy: SignInPolicy = DEFAULT_SIGN_IN_POLICY,
): Promise<SignInResult> {
  const normalised = login.trim().toLowerCase();
  const { rows } = await pool.query<Credentials>(`SELECT ${CREDENTIAL_COLUMNS} FROM users WHERE login = $1`, [normalised]);
  const found = rows[0];
  const outcome = await guardPasswordCheck(
    pool,
    { login: normalised, userId: found?.id ?? null, remoteAddress, via: 'sign_in' },
    policy,
    async () => {
      const ok = found ? await verifyPassword(password, found.password_hash) : await burnPasswordCheck(password);
      return !found ? 'unknown_login' : !ok ? 'wrong_password' : !found.active ? 'inactive_user' : null;
    },
  );
  if (outcome.status === 'throttled') return outcome;
  const user = outcome.status === 'passed' && found ? await getUser(pool, found.id) : null;
  return user ? { status: 'ok', user } : { status: 'wrong' };
}

/** signIn() for callers that need only the user or nothing (tools, scripts). */
export async function checkCredentials(
  pool: Pool,
  login: string,
  password: string,
  remoteAddress?: string | null,
): Promise<UserView | null> {
  const result = await signIn(pool, login, password, remoteAddress);
  return result.status === 'ok' ? result.user : null;
}

export type PasswordChange =
  { kind: 'self'; currentPassword: string; keepSessionId?: string; remoteAddress?: string | null } | { kind: 'admin_reset' };

export type SetPasswordResult =
  | { status: 'changed'; user: UserView }
  | { status: 'no_such_user' }
  | { status: 'wrong_current_password' }
  | { status: 'throttled'; retryAfterSeconds: number };

/**
 * Sets a new password. People changing their own give the current one, checked under the same
 * throttle and lockout as sign-in (guessing here counts against the login like guessing there); an
 * administrator's reset does not, marks the password for change and ends the user's sessions. The
 * change and its `user.password_changed` audit row commit together.
 */
export async function setPassword(
  pool: Pool,
  userId: string,
  newPassword: string,
  how: PasswordChange,
  actor: string,
  policy: SignInPolicy = DEFAULT_SIGN_IN_POLICY,
): Promise<SetPasswordResult> {
  const { rows } = await pool.query<Credentials>(`SELECT ${CREDENTIAL_COLUMNS} FROM users WHERE id = $1`, [userId]);
  const user = rows[0];
  if (!user) return { status: 'no_such_user' };
  if (how.kind === 'self') {
    const attempt = { login: user.login, userId, remoteAddress: how.remoteAddress, via: 'password_change' as const };
    const checked = await guardPasswordCheck(pool, attempt, policy, async () =>
      (await verifyPassword(how.currentPassword, user.password_hash)) ? null : 'wrong_current_password',
    );
    if (checked.status === 'throttled') return checked;
    if (checked.status === 'failed') return { status: 'wrong_current_password' };
  }
  const problems = passwordProblems(newPassword, { login: user.login, printedName: user.printed_name });
  if (how.kind === 'self' && newPassword === how.currentPassword) problems.push('the new password differs from the current one');
  if (problems.length) throw new PasswordPolicyError(problems);
  const passwordHash = await hashPassword(newPassword);
  const mustChange = how.kind === 'admin_reset';
  return withTransaction(pool, async (client) => {
    const { rows: updated } = await client.query<UserView & { passwordChangedAt: Date }>(
      `UPDATE users SET password_hash = $2, password_changed_at = now(), password_must_change = $3, updated_at = now()
        WHERE id = $1 RETURNING ${USER_COLUMNS}, password_changed_at AS "passwordChangedAt"`,
      [userId, passwordHash, mustChange],
    );
    const { passwordChangedAt, ...view } = updated[0]!;
    // A changed password ends other sessions: whoever knew the old one is signed out too.
    const sessionsEnded = await revokeUserSessions(client, userId, how.kind === 'self' ? how.keepSessionId : undefined);
    await appendAudit(client, {
      actor,
      action: 'user.password_changed',
      entityType: 'user',
      entityId: userId,
      before: { passwordMustChange: user.password_must_change },
      after: { passwordMustChange: mustChange, passwordChangedAt },
      details: { how: how.kind, sessionsEnded },
    });
    return { status: 'changed', user: view } as const;
  });
}
