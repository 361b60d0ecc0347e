import { reauthenticate, signingLockPolicy, unlockSigning } from '../../signatures';
import { startStack, type TestStack } from '../helpers/stack';
import { createUser } from '../helpers/users';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

const policy = () => signingLockPolicy(stack.config);

async function events(userId: string) {
  const { rows } = await stack.pool.query<{ event: string; detail: Record<string, unknown> }>(
    `SELECT event, detail FROM security_log WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  return rows;
}

async function securityNotifications(login: string) {
  const { rows } = await stack.pool.query(
    `SELECT kind, recipients, subject, body, deviation_id AS "deviationId", status FROM notifications
      WHERE kind = 'security_signing_locked' AND $1 = ANY (recipients)`,
    [login],
  );
  return rows;
}

describe('reauthenticate', () => {
  it('answers ok with the signer for the right password (and the right login when one is given)', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    const result = await reauthenticate(stack.pool, user.id, user.password, { ...policy(), login: user.login.toUpperCase() });
    expect(result).toEqual({
      status: 'ok',
      user: { id: user.id, login: user.login, printedName: user.printedName, roles: ['qa_approver'], kind: 'user' },
    });
    expect(await events(user.id)).toEqual([]);
  });

  it('answers wrong, the same for a wrong password, a wrong login and an unknown user, and logs each', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    const context = { taskId: 'task-1', deviationId: 'DEV-1999-000007' };
    expect(await reauthenticate(stack.pool, user.id, 'guessing-wrongly', { ...policy(), context, remoteAddress: '198.51.100.4' })).toEqual({
      status: 'wrong',
    });
    expect(await reauthenticate(stack.pool, user.id, user.password, { ...policy(), login: 'someone.else' })).toEqual({ status: 'wrong' });
    expect(await reauthenticate(stack.pool, '00000000-0000-4000-8000-000000000000', user.password, policy())).toEqual({ status: 'wrong' });
    expect(await reauthenticate(stack.pool, 'not-a-uuid', user.password, policy())).toEqual({ status: 'wrong' });
    expect(await events(user.id)).toEqual([
      { event: 'signature_reauth_failed', detail: { ...context, reason: 'wrong_password' } },
      { event: 'signature_reauth_failed', detail: { reason: 'wrong_login' } },
    ]);
    const { rows } = await stack.pool.query(`SELECT remote_address FROM security_log WHERE user_id = $1 ORDER BY id LIMIT 1`, [user.id]);
    expect(rows[0].remote_address).toBe('198.51.100.4');
  });

  it(`locks signing after SIGNING_MAX_FAILURES failures and raises one security notification`, async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    const context = { taskId: 'task-lock', deviationId: 'DEV-1999-000099' };
    expect(stack.config.SIGNING_MAX_FAILURES).toBe(3);
    expect((await reauthenticate(stack.pool, user.id, 'wrong one', { ...policy(), context })).status).toBe('wrong');
    expect((await reauthenticate(stack.pool, user.id, 'wrong two', { ...policy(), context })).status).toBe('wrong');
    const third = await reauthenticate(stack.pool, user.id, 'wrong three', { ...policy(), context });
    expect(third.status).toBe('locked');
    const lockedUntil = (third as { lockedUntil: Date }).lockedUntil.getTime();
    expect(lockedUntil - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(lockedUntil - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    // Locked: even the right password is refused, and nothing is hashed or counted.
    expect((await reauthenticate(stack.pool, user.id, user.password, { ...policy(), context })).status).toBe('locked');

    const logged = await events(user.id);
    expect(logged.map((e) => e.event)).toEqual([
      'signature_reauth_failed',
      'signature_reauth_failed',
      'signature_reauth_failed',
      'signing_locked',
      'signature_reauth_failed',
    ]);
    expect(logged[3]!.detail).toMatchObject({ failures: 3, ...context });
    expect(logged[4]!.detail).toMatchObject({ whileLocked: true });

    const notes = await securityNotifications(user.login);
    expect(notes).toEqual([
      expect.objectContaining({
        kind: 'security_signing_locked',
        recipients: ['role:admin', 'role:qa_head', user.login],
        deviationId: 'DEV-1999-000099',
        status: 'pending',
        body: expect.objectContaining({ userId: user.id, failures: 3, taskId: 'task-lock' }),
      }),
    ]);
    expect(JSON.stringify(notes)).not.toContain('wrong three');
  });

  it('locks once and notifies once when failures arrive concurrently', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_head'] });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => reauthenticate(stack.pool, user.id, `wrong ${i}`, policy())));
    expect(results.filter((r) => r.status === 'locked').length).toBeGreaterThanOrEqual(4);
    expect(results.filter((r) => r.status === 'wrong').length).toBeLessThanOrEqual(2);
    expect((await events(user.id)).filter((e) => e.event === 'signing_locked')).toHaveLength(1);
    expect(await securityNotifications(user.login)).toHaveLength(1);
  });

  it('unlocks when the lock runs out, and counts afresh', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    for (const attempt of ['a-wrong', 'b-wrong', 'c-wrong']) await reauthenticate(stack.pool, user.id, attempt, policy());
    // Fifteen minutes later (moved in the database rather than waited for).
    await stack.pool.query(`UPDATE users SET signing_locked_until = now() - interval '1 second' WHERE id = $1`, [user.id]);
    expect((await reauthenticate(stack.pool, user.id, 'd-wrong', policy())).status).toBe('wrong');
    expect((await reauthenticate(stack.pool, user.id, user.password, policy())).status).toBe('ok');
  });

  it('restarts the count after a success, and an administrator can lift a lock', async () => {
    const user = await createUser(stack.pool, { roles: ['qa_approver'] });
    await reauthenticate(stack.pool, user.id, 'wrong-1', policy());
    await reauthenticate(stack.pool, user.id, 'wrong-2', policy());
    expect((await reauthenticate(stack.pool, user.id, user.password, policy())).status).toBe('ok');
    expect((await reauthenticate(stack.pool, user.id, 'wrong-3', policy())).status).toBe('wrong');
    expect((await reauthenticate(stack.pool, user.id, 'wrong-4', policy())).status).toBe('wrong');
    expect((await reauthenticate(stack.pool, user.id, 'wrong-5', policy())).status).toBe('locked');
    expect(await unlockSigning(stack.pool, user.id)).toBe(true);
    expect((await reauthenticate(stack.pool, user.id, user.password, policy())).status).toBe('ok');
  });
});
