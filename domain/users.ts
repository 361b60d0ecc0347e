import { z } from 'zod';
import { API_KEY_ROLES, USER_ROLES } from './roles';
import { lineText, safeString } from './text';

/** Logins are case-insensitive identities, so they are kept lower case; `@` and `.` allow e-mail-like logins. */
export const loginSchema = safeString()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._@-]{2,63}$/, 'a login is 3–64 characters: letters, digits, ".", "_", "@", "-"');

/** The name printed with every signature (21 CFR 11.50(a)(1)). */
export const printedNameSchema = lineText(200);

/** One line, then the shape of an address (zod's own e-mail pattern); the message never quotes the value. */
export const emailSchema = lineText(320, 3).regex(z.regexes.email, 'not an e-mail address');

const rolesOf = <R extends readonly [string, ...string[]]>(roles: R) =>
  z
    .array(z.enum(roles))
    .min(1, 'at least one role')
    .max(roles.length)
    .refine((list) => new Set(list).size === list.length, 'each role is listed once');

export const userRolesSchema = rolesOf(USER_ROLES);

export const PASSWORD_MIN_LENGTH = 12;
/** Long enough for any passphrase, short enough that nobody can make the server hash megabytes. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * The password policy, as a list of what is wrong (empty when the password is acceptable). Length is
 * what matters most (NIST SP 800-63B §5.1.1.2); composition rules are deliberately absent, but a
 * password built from the person's own login or name is refused.
 */
export function passwordProblems(password: string, person: { login?: string; printedName?: string } = {}): string[] {
  return [...genericPasswordProblems(password), ...personalPasswordProblems(password, person)];
}

function genericPasswordProblems(password: string): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push(`a password has at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`a password has at most ${PASSWORD_MAX_LENGTH} characters`);
  if (password.trim().length === 0) problems.push('a password is not only spaces');
  else if (new Set(password).size < 4) problems.push('a password uses at least 4 different characters');
  return problems;
}

function personalPasswordProblems(password: string, person: { login?: string; printedName?: string }): string[] {
  const problems: string[] = [];
  const lower = password.toLowerCase();
  if (person.login && person.login.length >= 3 && lower.includes(person.login.toLowerCase())) {
    problems.push('a password does not contain the login');
  }
  const nameParts = (person.printedName ?? '')
    .toLowerCase()
    .split(/\s+/)
    .filter((p) => p.length >= 4);
  if (nameParts.some((part) => lower.includes(part))) problems.push("a password does not contain the person's name");
  return problems;
}

/**
 * Any storable text: no control character (not even a tab) and no lone surrogate, which scrypt
 * would hash as U+FFFD, making two different passwords one.
 */
const passwordField = safeString().max(4 * PASSWORD_MAX_LENGTH);

export const createUserSchema = z
  .object({
    login: loginSchema,
    printedName: printedNameSchema,
    email: emailSchema,
    roles: userRolesSchema,
    password: passwordField.superRefine((password, ctx) => {
      for (const message of genericPasswordProblems(password)) ctx.addIssue({ code: 'custom', message });
    }),
  })
  .strict()
  // Runs only once every field is valid; the checks that need the person come here.
  .superRefine((user, ctx) => {
    for (const message of personalPasswordProblems(user.password, user)) ctx.addIssue({ code: 'custom', path: ['password'], message });
  });
export type CreateUserRequest = z.infer<typeof createUserSchema>;

export const updateUserSchema = z
  .object({
    printedName: printedNameSchema.optional(),
    email: emailSchema.optional(),
    roles: userRolesSchema.optional(),
    active: z.boolean().optional(),
  })
  .strict()
  .refine((patch) => Object.values(patch).some((v) => v !== undefined), 'name at least one field to change');
export type UpdateUserRequest = z.infer<typeof updateUserSchema>;

/** Policy checks that need the person (login, name) run where the person is known: auth/users.ts. */
export const changePasswordSchema = z
  .object({
    newPassword: passwordField,
    /** Required when people change their own password; an administrator's reset goes without. */
    currentPassword: passwordField.optional(),
  })
  .strict();
export type ChangePasswordRequest = z.infer<typeof changePasswordSchema>;

/**
 * Sign-in takes any storable string as a login: a malformed login is just a wrong login (401),
 * never a hint (400). Only text that could not be stored or logged (controls, lone surrogates) is
 * refused with 400, and that says nothing about any account.
 */
export const loginRequestSchema = z
  .object({
    login: safeString().max(320),
    password: passwordField,
  })
  .strict();
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export const createApiKeySchema = z
  .object({
    name: lineText(200),
    roles: rolesOf(API_KEY_ROLES).default(['integration']),
  })
  .strict();
export type CreateApiKeyRequest = z.infer<typeof createApiKeySchema>;

export const USER_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
