import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { createApiKey as createKey } from '../../auth/api-keys';
import { createUser as insertUser } from '../../auth/users';
import type { Pool } from '../../db/pool';
import type { ApiKeyRole, UserRole } from '../../domain/roles';

export interface TestUser {
  id: string;
  login: string;
  /** The clear-text password, for loginAs and re-authentication in tests. */
  password: string;
  printedName: string;
  email: string;
  roles: UserRole[];
}

const tag = () => randomBytes(5).toString('hex');

/** A user with the given roles and a unique login (tests share one database). */
export async function createUser(
  pool: Pool,
  opts: { roles: UserRole[]; login?: string; password?: string; printedName?: string; email?: string },
): Promise<TestUser> {
  const login = opts.login ?? `${opts.roles[0] ?? 'user'}.${tag()}`.replace(/_/g, '-');
  const password = opts.password ?? `Pw-${randomBytes(12).toString('base64url')}`;
  const printedName = opts.printedName ?? `Test ${opts.roles.join(' ')} ${tag()}`;
  const email = opts.email ?? `${login}@example.com`;
  const user = await insertUser(pool, { login, password, printedName, email, roles: opts.roles });
  return { id: user.id, login: user.login, password, printedName, email, roles: opts.roles };
}

/** Signs in through the API and returns the session token (for `Authorization: Bearer <token>`). */
export async function loginAs(app: Express, login: string, password: string): Promise<string> {
  const res = await request(app).post('/auth/login').send({ login, password });
  if (res.status !== 200) throw new Error(`login as ${login} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}

/** A user with the roles, signed in: `{ ...user, token }`. */
export async function signedInUser(
  app: Express,
  pool: Pool,
  opts: Parameters<typeof createUser>[1],
): Promise<TestUser & { token: string }> {
  const user = await createUser(pool, opts);
  return { ...user, token: await loginAs(app, user.login, user.password) };
}

/** An API key for a machine client (X-API-Key), created by a fresh administrator unless one is given. */
export async function createApiKey(
  pool: Pool,
  opts: { roles?: ApiKeyRole[]; name?: string; createdBy?: string } = {},
): Promise<{ id: string; key: string }> {
  const createdBy = opts.createdBy ?? (await createUser(pool, { roles: ['admin'] })).id;
  const created = await createKey(pool, { name: opts.name ?? `test key ${tag()}`, roles: opts.roles ?? ['integration'] }, createdBy);
  return { id: created.id, key: created.key };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
