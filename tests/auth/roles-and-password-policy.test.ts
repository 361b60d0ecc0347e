import { API_KEY_ROLES, canChange, hasAnyRole, ROLES, USER_ROLES } from '../../domain/roles';
import { createUserSchema, passwordProblems } from '../../domain/users';
import { hashPassword, verifyPassword } from '../../auth/passwords';
import { loadConfig } from '../../lib/config';

describe('roles', () => {
  it('has the roles the lifecycle needs; integration belongs to keys, not people', () => {
    expect(ROLES).toEqual(
      expect.arrayContaining([
        'qa_lead',
        'qa_approver',
        'qa_head',
        'investigator',
        'capa_owner',
        'production',
        'it',
        'validation',
        'auditor',
        'admin',
        'integration',
      ]),
    );
    expect(USER_ROLES).not.toContain('integration');
    expect(API_KEY_ROLES).not.toContain('admin');
  });

  it('treats an auditor as read-only, unless they also hold another role', () => {
    expect(canChange(['auditor'])).toBe(false);
    expect(canChange(['auditor', 'qa_lead'])).toBe(true);
    expect(hasAnyRole(['auditor'], ['admin', 'auditor'])).toBe(true);
    expect(hasAnyRole(['qa_lead'], ['admin'])).toBe(false);
  });
});

describe('password policy', () => {
  it('asks for 12 characters, some variety, and nothing of the person', () => {
    expect(passwordProblems('correct horse battery')).toEqual([]);
    expect(passwordProblems('short')).toEqual(['a password has at least 12 characters']);
    expect(passwordProblems('aaaaaaaaaaaaaaaa')).toEqual(['a password uses at least 4 different characters']);
    expect(passwordProblems('            ')).toContain('a password is not only spaces');
    expect(passwordProblems('x'.repeat(257) + 'abc')).toContain('a password has at most 256 characters');
    expect(passwordProblems('my-login-jdoe-2026', { login: 'jdoe' })).toEqual(['a password does not contain the login']);
    expect(passwordProblems('hello Schmidt 2026!', { printedName: 'Anna Schmidt' })).toEqual([
      "a password does not contain the person's name",
    ]);
  });

  it('is part of the create-user schema, reported on the password field', () => {
    const parsed = createUserSchema.safeParse({
      login: 'Jane.Doe',
      printedName: 'Jane Doe',
      email: 'jane@example.com',
      roles: ['qa_lead'],
      password: 'jane.doe rocks 2026',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues).toEqual([
      expect.objectContaining({ path: ['password'], message: 'a password does not contain the login' }),
      expect.objectContaining({ path: ['password'], message: "a password does not contain the person's name" }),
    ]);
  });
});

describe('password hashing', () => {
  it('uses scrypt with a per-user salt and verifies in constant time', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$N=32768,r=8,p=3\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'scrypt$N=1048577,r=8,p=1$AAAA$AAAA')).toBe(false);
    expect(await verifyPassword('anything', 'plain-text')).toBe(false);
  });
});

describe('configuration', () => {
  it('defaults sessions to 30 idle minutes and 12 hours, and signing locks to 3 failures for 15 minutes', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ SESSION_IDLE_MINUTES: 30, SESSION_MAX_HOURS: 12, SIGNING_MAX_FAILURES: 3, SIGNING_LOCK_MINUTES: 15 });
    expect(config.NOTIFICATION_WEBHOOK_URL).toBeUndefined();
    expect(() => loadConfig({ SESSION_IDLE_MINUTES: '0', NOTIFICATION_WEBHOOK_URL: 'not a url' })).toThrow(
      /SESSION_IDLE_MINUTES[\s\S]*NOTIFICATION_WEBHOOK_URL/,
    );
  });
});
