import { withTransaction, type Pool } from '../db/pool';
import { passwordProblems, type CreateUserRequest, type UpdateUserRequest } from '../domain/users';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords';
import { recordSecurityEvent } from './security-log';
import { revokeUserSessions } from './sessions';
import { USER_COLUMNS, type Queryable, type UserView } from './types';

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

/** Creates a user from an already validated request (domain/users.ts createUserSchema). */
export async function createUser(db: Queryable, input: CreateUserRequest): Promise<UserView> {
  const problems = passwordProblems(input.password, input);
  if (problems.length) throw new PasswordPolicyError(problems);
  const passwordHash = await hashPassword(input.password);
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

export async function listUsers(db: Queryable): Promise<UserView[]> {
  const { rows } = await db.query<UserView>(`SELECT ${USER_COLUMNS} FROM users ORDER BY login`);
  return rows;
}

export async function getUser(db: Queryable, id: string): Promise<UserView | null> {
  const { rows } = await db.query<UserView>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * Changes a user's name, e-mail, roles or active flag. Deactivating ends their sessions at once;
 * role changes apply from their next request (sessions read roles on every request).
 */
export async function updateUser(pool: Pool, id: string, patch: UpdateUserRequest): Promise<UserView | null> {
  return withTransaction(pool, async (client) => {
    // Lock the active administrators first: two admins demoting each other at once must not both succeed.
    await client.query(`SELECT id FROM users WHERE active AND 'admin' = ANY (roles) ORDER BY id FOR UPDATE`);
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
    const user = rows[0];
    if (!user) return null;
    const { rows: admins } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM users WHERE active AND 'admin' = ANY (roles)`,
    );
    if (admins[0]!.n === 0) throw new LastAdminError();
    if (patch.active === false) await revokeUserSessions(client, id);
    return user;
  });
}

interface Credentials {
  id: string;
  login: string;
  printed_name: string;
  password_hash: string;
  active: boolean;
}

/**
 * Checks a login and password. Every failure looks the same to the caller (null) and takes about
 * the same time; the reason goes to the security log only.
 */
export async function checkCredentials(
  db: Queryable,
  login: string,
  password: string,
  remoteAddress?: string | null,
): Promise<UserView | null> {
  const normalised = login.trim().toLowerCase();
  const { rows } = await db.query<Credentials>(
    `SELECT id, login, printed_name, password_hash, active FROM users WHERE login = $1`,
    [normalised],
  );
  const found = rows[0];
  const ok = found ? await verifyPassword(password, found.password_hash) : await burnPasswordCheck(password);
  if (!found || !ok || !found.active) {
    const reason = !found ? 'unknown_login' : !ok ? 'wrong_password' : 'inactive_user';
    await recordSecurityEvent(db, 'login_failed', { userId: found?.id ?? null, login: normalised, remoteAddress }, { reason });
    return null;
  }
  return getUser(db, found.id);
}

/**
 * Sets a new password. People changing their own give the current one (checked, failures logged);
 * an administrator's reset does not, marks the password for change and ends the user's sessions.
 * Returns 'wrong_current_password' when the check fails, or null when there is no such user.
 */
export async function setPassword(
  db: Queryable,
  userId: string,
  newPassword: string,
  how: { kind: 'self'; currentPassword: string; keepSessionId?: string; remoteAddress?: string | null } | { kind: 'admin_reset' },
): Promise<UserView | 'wrong_current_password' | null> {
  const { rows } = await db.query<Credentials>(
    `SELECT id, login, printed_name, password_hash, active FROM users WHERE id = $1`,
    [userId],
  );
  const user = rows[0];
  if (!user) return null;
  if (how.kind === 'self' && !(await verifyPassword(how.currentPassword, user.password_hash))) {
    await recordSecurityEvent(db, 'password_change_failed', { userId, login: user.login, remoteAddress: how.remoteAddress }, { reason: 'wrong_current_password' });
    return 'wrong_current_password';
  }
  const problems = passwordProblems(newPassword, { login: user.login, printedName: user.printed_name });
  if (how.kind === 'self' && newPassword === how.currentPassword) problems.push('the new password differs from the current one');
  if (problems.length) throw new PasswordPolicyError(problems);
  const passwordHash = await hashPassword(newPassword);
  const { rows: updated } = await db.query<UserView>(
    `UPDATE users SET password_hash = $2, password_changed_at = now(), password_must_change = $3, updated_at = now()
      WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    [userId, passwordHash, how.kind === 'admin_reset'],
  );
  // A changed password ends other sessions: whoever knew the old one is signed out too.
  await revokeUserSessions(db, userId, how.kind === 'self' ? how.keepSessionId : undefined);
  return updated[0]!;
}
