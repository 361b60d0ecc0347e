import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool } from '../db/pool';
import { createUserSchema } from '../domain/users';
import type { UserView } from './types';
import { createUser } from './users';

export class AdminExistsError extends Error {
  constructor() {
    super('An administrator exists already: ask them to create your account (POST /users).');
  }
}

/**
 * Creates the first administrator, and only the first: once any admin exists (active or not) the
 * way to new accounts is through an administrator, so this cannot be used to get round them.
 */
export async function bootstrapAdmin(
  pool: Pool,
  input: { login: string; printedName: string; email: string; password: string },
): Promise<UserView> {
  const request = createUserSchema.parse({ ...input, roles: ['admin'] });
  return withTransaction(pool, async (client) => {
    // Two bootstrap commands at once: the second waits here and then finds the first one's admin.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('gxp'), hashtext('bootstrap_admin'))`);
    const { rowCount } = await client.query(`SELECT 1 FROM users WHERE 'admin' = ANY (roles) LIMIT 1`);
    if (rowCount) throw new AdminExistsError();
    const user = await createUser(client, request);
    await appendAudit(client, {
      actor: 'system',
      action: 'user.created',
      entityType: 'user',
      entityId: user.id,
      after: user,
      details: { via: 'bootstrap-admin' },
    });
    return user;
  });
}
