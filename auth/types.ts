import type { Role } from '../domain/roles';

/** Who is calling: a person signed in with a session, or a machine client with an API key. */
export interface AuthenticatedUser {
  /** The user's id, or the API key's id for machine clients. */
  id: string;
  /** The user's login; for an API key `api-key:<name>`. */
  login: string;
  printedName: string;
  roles: Role[];
  kind: 'user' | 'api_key';
}

/** A user as the API shows it: never the password hash. */
export interface UserView {
  id: string;
  login: string;
  printedName: string;
  email: string;
  roles: Role[];
  active: boolean;
  passwordMustChange: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const USER_COLUMNS = `id, login, printed_name AS "printedName", email, roles, active,
  password_must_change AS "passwordMustChange", created_at AS "createdAt", updated_at AS "updatedAt"`;
