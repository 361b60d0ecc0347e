import { randomInt } from 'node:crypto';
import { Agent } from 'node:http';
import type { Express } from 'express';
import request from 'supertest';
import type { Pool } from '../../db/pool';

/**
 * A client address of its own, for tests of the per-address sign-in limit. Every test file shares
 * one database and, through supertest, the address 127.0.0.1: a test that used up that address's
 * failures would lock every other test's sign-ins. 127.0.0.0/8 is all loopback on Linux, so each
 * call binds the client side of its connections to a fresh address in it (never 127.0.0.x).
 */
export interface ClientAddress {
  address: string;
  agent: Agent;
}

export function clientAddress(): ClientAddress {
  const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
  return { address, agent: new Agent({ localAddress: address }) };
}

/** POST /auth/login from that address. */
export function loginFrom(app: Express, from: ClientAddress, login: string, password: string) {
  return request(app).post('/auth/login').agent(from.agent).send({ login, password });
}

export interface SecurityLogRow {
  event: string;
  userId: string | null;
  login: string | null;
  remoteAddress: string | null;
  detail: Record<string, unknown>;
}

/** The security log's rows matching a column, oldest first. */
export async function securityLogWhere(pool: Pool, column: 'login' | 'remote_address', value: string): Promise<SecurityLogRow[]> {
  const { rows } = await pool.query<SecurityLogRow>(
    `SELECT event, user_id AS "userId", login, remote_address AS "remoteAddress", detail
       FROM security_log WHERE ${column === 'login' ? 'login' : 'remote_address'} = $1 ORDER BY id`,
    [value],
  );
  return rows;
}
