import type { Express } from 'express';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { eventually } from '../helpers/eventually';
import { as, type Actor, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';

// The API answers JSON: the state as a client sees it, loosely typed on purpose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StateJson = Record<string, any>;

/** A deviation through the API, its containment actions done (holds placed, task open). */
export async function openContainedDeviation(app: Express, cast: Cast, overrides: Record<string, unknown> = {}): Promise<string> {
  const id = (
    await request(app)
      .post('/deviations')
      .set(as(cast.qaLead))
      .send(newDeviationRequest(overrides as never))
      .expect(201)
  ).body.id as string;
  await waitForState(app, cast, id, (s) => Boolean(s.containment.actionsCompletedAt) && s.tasks.length > 0);
  return id;
}

export async function stateOf(app: Express, cast: Cast, id: string): Promise<StateJson> {
  return (await request(app).get(`/deviations/${id}`).set(as(cast.auditor)).expect(200)).body.deviation;
}

export async function waitForState(
  app: Express,
  cast: Cast,
  id: string,
  done: (s: StateJson) => boolean,
  timeoutMs = 30_000,
): Promise<StateJson> {
  return eventually(async () => {
    const s = await stateOf(app, cast, id);
    return done(s) ? s : undefined;
  }, timeoutMs);
}

export async function step(app: Express, id: string, actor: Actor, path: string, body: Record<string, unknown>, status = 200) {
  const res = await request(app).post(`/deviations/${id}/${path}`).set(as(actor)).send(body);
  if (res.status !== status) throw new Error(`${path}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The human input in a deviation's history: Updates accepted (a refused Update leaves none). */
export async function acceptedUpdates(temporal: Client, id: string): Promise<string[]> {
  const history = await temporal.workflow.getHandle(id).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const name = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    return name ? [name] : [];
  });
}

export const inDays = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString();
