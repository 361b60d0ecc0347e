import { randomUUID } from 'node:crypto';
import { appendAudit } from '../../audit/trail';
import { withTransaction } from '../../db/pool';
import {
  queryStringOf,
  SUBSCRIPTION_MANAGERS,
  type NamedQueryBody,
  type NamedQueryView,
  type SubscriptionBody,
  type SubscriptionView,
} from '../../domain/epcis-subscriptions';
import { hasAnyRole, type Role } from '../../domain/roles';
import { sealToken, tokenKey } from '../../epcis/subscription-tokens';
import {
  deleteNamedQuery as removeNamedQuery,
  deleteSubscriptions,
  insertNamedQuery,
  insertSubscription,
  namedQuery,
} from '../../epcis/subscriptions';
import { destinationProblem } from '../../epcis/webhook-destination';
import type { ApiContext } from '../context';
import { HttpProblem } from '../problem';

/**
 * Named queries and subscriptions, each change with its audit row in the same transaction. A
 * subscription's signatureToken is sealed before it reaches the database and appears in no answer,
 * audit row or log line: the views carry only whether a subscription signs (`signed`).
 */

interface Caller {
  login: string;
  roles: readonly Role[];
}

export const noSuchQuery = (name: string) =>
  new HttpProblem(404, 'Not Found', `No named query ${name}.`, { type: 'epcisException:NoSuchNameException' });

export const subscriptionProblem = (detail: string, errors: Array<{ path: string; message: string }>) =>
  new HttpProblem(400, 'Bad Request', detail, { type: 'epcisException:SubscriptionControlsException', errors });

export async function createNamedQuery(ctx: ApiContext, body: NamedQueryBody, by: Caller): Promise<NamedQueryView> {
  return withTransaction(ctx.pool, async (client) => {
    const created = await insertNamedQuery(client, { name: body.name, params: queryStringOf(body.query), createdBy: by.login });
    if (!created)
      throw new HttpProblem(409, 'Conflict', `A named query ${body.name} exists already.`, {
        type: 'epcisException:ResourceAlreadyExistsException',
      });
    await appendAudit(client, {
      actor: by.login,
      action: 'epcis.query_created',
      entityType: 'epcis_named_query',
      entityId: created.name,
      after: created,
    });
    return created;
  });
}

/**
 * Removes a named query and, as the binding says, its subscriptions with it; only a caller who may
 * unsubscribe them may do that, so anyone else is told to have them removed first.
 */
export async function deleteNamedQuery(ctx: ApiContext, name: string, by: Caller): Promise<void> {
  await withTransaction(ctx.pool, async (client) => {
    const query = await namedQuery(client, name, { lock: true });
    if (!query) throw noSuchQuery(name);
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM epcis_subscriptions WHERE query_name = $1', [name]);
    const subscribed = rows[0]?.n ?? 0;
    if (subscribed > 0 && !hasAnyRole(by.roles, SUBSCRIPTION_MANAGERS))
      throw new HttpProblem(
        409,
        'Conflict',
        `The named query ${name} has ${subscribed} subscription(s); removing it removes them, which only ${SUBSCRIPTION_MANAGERS.join(' or ')} may do.`,
      );
    for (const removed of await deleteSubscriptions(client, name)) {
      await appendAudit(client, {
        actor: by.login,
        action: 'epcis.subscription_deleted',
        entityType: 'epcis_subscription',
        entityId: removed.subscriptionID,
        before: removed,
        reason: `named query ${name} removed`,
      });
    }
    await removeNamedQuery(client, name);
    await appendAudit(client, {
      actor: by.login,
      action: 'epcis.query_deleted',
      entityType: 'epcis_named_query',
      entityId: name,
      before: query.view,
    });
  });
}

export async function createSubscription(ctx: ApiContext, name: string, body: SubscriptionBody, by: Caller): Promise<SubscriptionView> {
  const destProblem = destinationProblem(body.dest, ctx.config.EPCIS_SUBSCRIPTION_ALLOWED_HOSTS);
  if (destProblem) throw subscriptionProblem('The webhook destination is refused.', [{ path: 'dest', message: destProblem }]);
  if (body.signatureToken !== undefined && !ctx.config.EPCIS_SUBSCRIPTION_KEY)
    throw subscriptionProblem('This server cannot keep a signatureToken: no key to seal it with is configured.', [
      {
        path: 'signatureToken',
        message: 'signed delivery needs EPCIS_SUBSCRIPTION_KEY configured on the server; subscribe without one or ask its operators',
      },
    ]);
  const id = randomUUID();
  const sealed =
    body.signatureToken !== undefined ? sealToken(tokenKey(ctx.config.EPCIS_SUBSCRIPTION_KEY!), id, body.signatureToken) : null;
  return withTransaction(ctx.pool, async (client) => {
    // (held until commit: the query cannot be removed under a subscription being made)
    if (!(await namedQuery(client, name, { lock: true }))) throw noSuchQuery(name);
    const created = await insertSubscription(client, {
      id,
      queryName: name,
      dest: body.dest,
      tokenSealed: sealed,
      initialRecordTime: body.initialRecordTime,
      createdBy: by.login,
    });
    await appendAudit(client, {
      actor: by.login,
      action: 'epcis.subscription_created',
      entityType: 'epcis_subscription',
      entityId: id,
      after: {
        subscriptionID: id,
        queryName: name,
        dest: created.dest,
        signed: created.signed,
        initialRecordTime: created.initialRecordTime,
      },
    });
    return created;
  });
}

/** Unsubscribes; false when the query has no such subscription. */
export async function deleteSubscription(ctx: ApiContext, name: string, id: string, by: Caller): Promise<boolean> {
  return withTransaction(ctx.pool, async (client) => {
    const [removed] = await deleteSubscriptions(client, name, id);
    if (!removed) return false;
    await appendAudit(client, {
      actor: by.login,
      action: 'epcis.subscription_deleted',
      entityType: 'epcis_subscription',
      entityId: id,
      before: removed,
    });
    return true;
  });
}
