/**
 * Roles and the pure rules over them. Routes say which roles may call them (api/auth.ts
 * requireRole); this module says what the roles are and which combinations make sense.
 */

/** Roles a person may hold. Machine access goes through API keys, so a password never stands for a machine. */
export const USER_ROLES = [
  'qa_lead',
  'qa_approver',
  'qa_head',
  'investigator',
  'capa_owner',
  'production',
  'it',
  'validation',
  /** Reads everything, changes nothing. */
  'auditor',
  /** Manages users and API keys. */
  'admin',
] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** `integration`: machine clients (EPCIS capture, L3/L4 systems); held by API keys, never by people. */
export const ROLES = [...USER_ROLES, 'integration'] as const;
export type Role = (typeof ROLES)[number];

/** Roles an API key may hold: machine capture, and read-only access for monitoring or archiving. */
export const API_KEY_ROLES = ['integration', 'auditor'] as const satisfies readonly Role[];
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/**
 * Who may capture EPCIS documents: machine clients (integration), and production, the people who
 * run the packaging lines (an operator loading a line's file by hand). Master data, repository
 * reports and error declarations, which decide findings about the lines' work, stay with
 * integration clients.
 */
export const CAPTURE_ROLES = ['integration', 'production'] as const satisfies readonly Role[];

/** Roles that change nothing: a caller holding only these is refused every change. */
export const READ_ONLY_ROLES = ['auditor'] as const satisfies readonly Role[];

/** Every role except integration may read deviations, tasks and the ledger. */
export const READER_ROLES = USER_ROLES;

/** Who may cancel a deviation (by electronic signature, with a justification): a QA lead or the head of QA. */
export const CANCELLATION_ROLES = ['qa_lead', 'qa_head'] as const satisfies readonly Role[];

/** Roles that may run and read the signature ledger verification. */
export const LEDGER_VERIFIER_ROLES = ['qa_head', 'auditor', 'admin'] as const satisfies readonly Role[];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** True when the caller holds at least one of the roles asked for. */
export function hasAnyRole(held: readonly string[], wanted: readonly string[]): boolean {
  return wanted.some((role) => held.includes(role));
}

/** True when the holder may change something: any role beyond the read-only ones. */
export function canChange(held: readonly string[]): boolean {
  return held.some((role) => !(READ_ONLY_ROLES as readonly string[]).includes(role));
}
