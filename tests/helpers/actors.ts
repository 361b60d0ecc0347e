import type { Express } from 'express';
import request from 'supertest';
import type { Pool } from '../../db/pool';
import type { UserRole } from '../../domain/roles';
import type { Signature } from '../../workflows/types';
import { bearer, createUser, loginAs, type TestUser } from './users';

export type Actor = TestUser & { token: string };

type Part = 'qaLead' | 'investigator' | 'capaOwner' | 'approver1' | 'approver2' | 'qaHead' | 'validation' | 'production' | 'it' | 'auditor';
const CAST: Record<Part, UserRole[]> = {
  qaLead: ['qa_lead'],
  investigator: ['investigator'],
  capaOwner: ['capa_owner'],
  approver1: ['qa_approver'],
  approver2: ['qa_approver'],
  qaHead: ['qa_head'],
  validation: ['validation'],
  production: ['production'],
  it: ['it'],
  auditor: ['auditor'],
};
export type Cast = Record<Part, Actor>;

/** The people of a deviation, as real users signed in through the API. */
export async function createCast(app: Express, pool: Pool): Promise<Cast> {
  const entries = await Promise.all(
    Object.entries(CAST).map(async ([name, roles]) => {
      const user = await createUser(pool, { roles });
      return [name, { ...user, token: await loginAs(app, user.login, user.password) }] as const;
    }),
  );
  return Object.fromEntries(entries) as Cast;
}

export const as = (actor: Actor) => bearer(actor.token);

/** Signs a task through the API: meaning, the signer's ID and password again. */
export async function sign(app: Express, actor: Actor, taskRef: string, meaning: 'reviewed' | 'approved' | 'verified', comment?: string) {
  return request(app)
    .post(`/tasks/${taskRef}/sign`)
    .set(as(actor))
    .send({ meaning, login: actor.login, password: actor.password, ...(comment ? { comment } : {}) });
}

/** For workflow tests without the API: the signature the API would build after re-authentication. */
export function signatureOf(user: TestUser, meaning: Signature['meaning'], signedAt: string): Signature {
  return {
    signerId: user.id,
    login: user.login,
    printedName: user.printedName,
    roles: user.roles,
    meaning,
    signedAt,
    recordHash: 'ab'.repeat(32),
  };
}
