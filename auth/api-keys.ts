import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool, type Queryable } from '../db/pool';
import type { ApiKeyRole } from '../domain/roles';
import { sha256Hex } from './sessions';
import type { AuthenticatedUser } from './types';

const KEY_PREFIX = 'gxpk_';

export interface ApiKeyView {
  id: string;
  name: string;
  keyPrefix: string;
  roles: ApiKeyRole[];
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const KEY_COLUMNS = `id, name, key_prefix AS "keyPrefix", roles, created_by AS "createdBy", created_at AS "createdAt",
  last_used_at AS "lastUsedAt", revoked_at AS "revokedAt"`;

/**
 * Creates a key, without an audit row (createApiKeyWithAudit writes one); the returned `key` is the
 * only time anybody sees it.
 */
export async function createApiKey(
  db: Queryable,
  input: { name: string; roles: ApiKeyRole[] },
  createdBy: string,
): Promise<ApiKeyView & { key: string }> {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const { rows } = await db.query<ApiKeyView>(
    `INSERT INTO api_keys (name, key_prefix, key_hash, roles, created_by) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${KEY_COLUMNS}`,
    [input.name, key.slice(0, KEY_PREFIX.length + 6), sha256Hex(key), input.roles, createdBy],
  );
  return { ...rows[0]!, key };
}

/** Who acts on keys: a signed-in administrator (their id is kept on the key, their login in the trail). */
export interface KeyAdministrator {
  id: string;
  login: string;
}

/** Creates a key and its `api_key.created` audit row in one transaction; the trail never sees the key. */
export async function createApiKeyWithAudit(
  pool: Pool,
  input: { name: string; roles: ApiKeyRole[] },
  by: KeyAdministrator,
): Promise<ApiKeyView & { key: string }> {
  return withTransaction(pool, async (client) => {
    const { key, ...view } = await createApiKey(client, input, by.id);
    await appendAudit(client, { actor: by.login, action: 'api_key.created', entityType: 'api_key', entityId: view.id, after: view });
    return { ...view, key };
  });
}

export async function resolveApiKey(db: Queryable, key: string): Promise<AuthenticatedUser | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const { rows } = await db.query<AuthenticatedUser>(
    `UPDATE api_keys SET last_used_at = now()
      WHERE key_hash = $1 AND revoked_at IS NULL
      RETURNING id, 'api-key:' || name AS login, name AS "printedName", roles, 'api_key' AS kind`,
    [sha256Hex(key)],
  );
  return rows[0] ?? null;
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyView[]> {
  const { rows } = await db.query<ApiKeyView>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
  return rows;
}

/**
 * Revokes a key, with its `api_key.revoked` audit row in the same transaction. Revoked keys stay on
 * record (who made them, who revoked them); false when no live key has that id.
 */
export async function revokeApiKey(pool: Pool, id: string, by: KeyAdministrator): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<ApiKeyView>(
      `UPDATE api_keys SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${KEY_COLUMNS}`,
      [id, by.id],
    );
    const revoked = rows[0];
    if (!revoked) return false;
    await appendAudit(client, {
      actor: by.login,
      action: 'api_key.revoked',
      entityType: 'api_key',
      entityId: id,
      before: { revokedAt: null },
      after: revoked,
    });
    return true;
  });
}
