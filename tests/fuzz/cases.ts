import fc from 'fast-check';
import type { FuzzOperation as Operation } from './operations';
import { isRole, type UserRole } from '../../domain/roles';
import { mutationsOf, rawBodies, type Body } from './bodies';
import { gtin14, PRINCIPALS, type PrincipalName, type World } from './world';
import { defOf } from '../helpers/zod-strings';
import { arbitraryFor, hostileString, isoDateArb, type Hints } from './zod-arbitrary';

/**
 * One fuzz request: an operation of the OpenAPI document, the role it is sent with, and what goes
 * on the wire. Credentials are resolved when the case runs (a sign-out gets a throwaway session of
 * the role then), so a case prints and reproduces without holding a token.
 */
export type Credential = 'role' | 'none' | 'both' | 'bogus-bearer' | 'bogus-key' | 'basic';

export interface FuzzCase {
  op: Operation;
  principal: PrincipalName;
  credential: Credential;
  /** Path and query as sent; `{self}` stands for the caller's own user ID. */
  path: string;
  headers: Record<string, string>;
  body: Body;
  /** The hostile value of a bogus credential. */
  bogus: string;
}

export const SELF = '{self}';

/** Streamed routes whose body is an EPCIS document: only hostile headers and bodies are sent. */
export const isEpcisCapture = (op: Operation) => op.method === 'post' && op.path === '/epcis/capture';

/** The roles an operation names, when they are all roles (some name groups in words). */
export function listedRoles(op: Operation): string[] | undefined {
  return op.roles && op.roles.every((r) => isRole(r)) ? [...op.roles] : undefined;
}

/** Whether the role may plausibly pass the route's role check (the fuzz sends most of its requests there). */
export function mayPass(op: Operation, principal: PrincipalName): boolean {
  if (principal === 'anonymous') return Boolean(op.public);
  const roles = listedRoles(op);
  return roles ? roles.includes(principal) : true;
}

// ---------------------------------------------------------------------------------------------
// Path parameters
// ---------------------------------------------------------------------------------------------

/** Path segments as they go on the wire: malformed or hostile percent-encodings, traversal, size. */
export const HOSTILE_SEGMENTS: readonly string[] = [
  '%00',
  'x%00y',
  '%ud800',
  '%u0000',
  '%ED%A0%80',
  '%ED%BF%BF',
  '%FF',
  '%C0%AE',
  '%',
  '%%',
  '%25',
  '..',
  '%2e%2e',
  '..%2F..%2Fetc%2Fpasswd',
  '%2F',
  '%5C..%5C',
  '%0d%0aX-Injected:%201',
  '%E2%80%AE',
  '%F0%9F%92%A9',
  "'%3B%20DROP%20TABLE%20users%3B--",
  '%22%20OR%201%3D1',
  '__proto__',
  'constructor',
  'null',
  '-1',
  '1e309',
  '*',
  '~',
  'a'.repeat(5_000),
  `DEV-2026-${'9'.repeat(2_000)}`,
  'DEV-0000-000000',
  'DEV-2026-000001%00',
  'DEV-2026-000001%0A',
  'DEV-2026-999999',
  `DEV-2026-${'9'.repeat(2_000)}.T1`,
  'DEV-2026-999999.T1',
  'DEV-2026-999999.T0',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  'CC0',
  `CC${'9'.repeat(3_000)}`,
  'A0',
  `A${'1'.repeat(3_000)}`,
];

const uuidArb = fc.uuid({ version: 4 });

function paramValues(world: World, op: Operation, name: string): fc.Arbitrary<string> {
  const hostile = fc.constantFrom(...HOSTILE_SEGMENTS);
  const real = (values: string[]) =>
    fc.oneof({ weight: 7, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: uuidArb }, { weight: 3, arbitrary: hostile });
  const deviations = [world.contained, world.investigating, world.changeControl];
  if (op.path.startsWith('/users/')) {
    const throwaway = world.throwawayUsers.map((u) => u.id);
    if (op.method === 'get') return real([...throwaway, world.drivers.qaLead.id, world.principals.admin.user!.id]);
    if (op.path.endsWith('/password')) return real([...throwaway, SELF]);
    if (op.path.endsWith('/unlock-signing')) return real([...throwaway, SELF, world.principals.qa_lead.user!.id]);
    return real(throwaway);
  }
  if (op.path.startsWith('/api-keys/')) return real(world.throwawayKeyIds);
  if (op.path.startsWith('/tasks/')) {
    return real([
      `${world.contained}.T1`,
      `${world.investigating}.T1`,
      `${world.changeControl}.T2`,
      `${world.contained}.T99`,
      `${world.contained}.t1`,
    ]);
  }
  if (name === 'id') return real(deviations);
  if (name === 'cc') return real(['CC1', 'CC1', 'CC2']);
  if (name === 'actionId') return real(['A1', 'A2', 'A3']);
  if (name === 'lot') return real([world.batch.lot, world.batch.lot, ...world.lots, 'NOSUCHLOT']);
  if (name === 'captureId') return real(['1', 'C1', 'C999999999999999999', 'C0']);
  return real(['x']);
}

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

/** encodeURIComponent, except that a lone surrogate goes as the (invalid) UTF-8 bytes of one. */
export function encodeQueryValue(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value].map((ch) => (/[\ud800-\udfff]/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
  }
}

const HOSTILE_QUERY: readonly string[] = [
  'unknown=1',
  'limit=1&limit=2',
  'limit=%ud800',
  'limit=%00',
  'limit=1e999',
  'limit=-0',
  'limit=0x10',
  'limit=%20%205%20',
  'limit=9007199254740993',
  'offset=9007199254740991',
  'offset=-1',
  'stage[]=closed',
  'stage=%ED%A0%80',
  '%00=1',
  '__proto__=1',
  'constructor=1',
  '&&&=&',
  '=',
  'a==b',
  `deviation=${'D'.repeat(5_000)}`,
  'deviation=%00',
  'cursor=%2F%2F%2F',
  'cursor=OTk5OTk5OTk5OTk5OTk5OTk5OQ',
  'cursor=LTE',
  'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
  'from=0000-01-01T00:00:00Z',
  'from=2026-06-01T12:00:00%2B15:59',
  'format=csv',
  'format=xml',
  'userId=00000000-0000-0000-0000-000000000000',
  'userId=not-a-uuid',
  'beforeId=99999999999999999999',
  'run=first',
  'run=latest',
  'run=00000000-0000-0000-0000-000000000000',
  'run=%ud800',
  'gtin=%00',
  'gtin=09506000134352',
  'scope=all&status=signed',
];

/** Query parameters routes read without the document naming them. */
const UNDOCUMENTED_QUERY: Record<string, fc.Arbitrary<Record<string, string>>> = {
  'get /deviations/{id}/history': fc.record({ run: fc.constantFrom('first', 'latest', '00000000-0000-0000-0000-000000000000') }),
  'get /batches/{lot}/reconciliation': fc.record({ gtin: fc.constantFrom('09506000134352', '1234') }),
  'post /batches/{lot}/reconciliation': fc.record({ gtin: fc.constantFrom('09506000134352', '1234') }),
  'post /batches/{lot}/repository-reports': fc.record({ gtin: fc.constantFrom('09506000134352', '1234') }),
};

function queryFor(op: Operation, hints: Hints): fc.Arbitrary<string> {
  const hostile = fc.array(fc.constantFrom(...HOSTILE_QUERY), { minLength: 1, maxLength: 2 }).map((parts) => parts.join('&'));
  const encode = (q: Record<string, unknown>) =>
    Object.entries(q)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${encodeQueryValue(k)}=${encodeQueryValue(String(v))}`)
      .join('&');
  const documented = op.query
    ? arbitraryFor(op.query, { hints, omitRate: 0.6 }).map((q) => encode(q as Record<string, unknown>))
    : undefined;
  const withHostileLeaves = op.query
    ? arbitraryFor(op.query, { hints, hostileRate: 0.3, omitRate: 0.6 }).map((q) => encode(q as Record<string, unknown>))
    : undefined;
  const undocumented = UNDOCUMENTED_QUERY[`${op.method} ${op.path}`]?.map(encode);
  const options: Array<{ weight: number; arbitrary: fc.Arbitrary<string> }> = [
    { weight: 2, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: hostile },
  ];
  if (documented) options.push({ weight: 5, arbitrary: documented }, { weight: 2, arbitrary: withHostileLeaves! });
  if (undocumented) options.push({ weight: 2, arbitrary: undocumented });
  return fc.oneof(...options);
}

// ---------------------------------------------------------------------------------------------
// Plausible values the schemas cannot know
// ---------------------------------------------------------------------------------------------

const lotArb = fc.stringMatching(/^FZ[A-Z0-9]{4,10}$/);
const futureIso = fc.integer({ min: 1, max: 300 }).map((d) => new Date(Date.now() + d * 86_400_000).toISOString());
const pastIso = fc.integer({ min: 1, max: 300 }).map((d) => new Date(Date.now() - d * 86_400_000).toISOString());
const gtinArb = fc.oneof(fc.stringMatching(/^[0-9]{13}$/).map(gtin14), fc.stringMatching(/^[0-9]{14}$/));
const deadlineArb = fc.oneof(
  fc.constantFrom('T1', 'containment', 'r1:investigation', 'investigation', 'CC1'),
  fc.stringMatching(/^[A-Za-z0-9:_-]{1,60}$/),
);
const sha256Arb = fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.constant('A'.repeat(64)));
const emailArb = fc.stringMatching(/^fz[a-z0-9]{3,10}$/).map((s) => `${s}@example.com`);
const nobodyArb = fc.stringMatching(/^nobody\.[a-z0-9]{3,12}$/);
const newLoginArb = fc.stringMatching(/^fz\.[a-z0-9]{4,12}$/);
const asCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
/** Cursors as the API issues them (the base64url of a row ID), up to the largest the cursor's pattern takes. */
const CURSOR_EDGES = ['0', '1', '9223372036854775807', '9223372036854775808', '9999999999999999999'].map(asCursor);
const cursorArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 10_000n }).map((n) => asCursor(String(n))),
  fc.constantFrom(...CURSOR_EDGES),
);
const passwordArb = fc.oneof(
  fc.string({ minLength: 12, maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9!-]{12,30}$/),
  fc.constantFrom('Correct-Horse-Battery-9', 'short'),
);

function hintsFor(world: World, op: Operation, principal: PrincipalName): Hints {
  const me = principal !== 'anonymous' && principal !== 'integration' ? world.principals[principal].user : undefined;
  const otherLogins = [world.drivers.qaLead.login, world.drivers.production.login, world.drivers.capaOwner.login];
  const hints: Hints = {
    gtin: fc.oneof(fc.constant(world.batch.gtin), gtinArb),
    'gtins[]': fc.oneof(fc.constant(world.batch.gtin), gtinArb),
    lot: fc.oneof(fc.constantFrom(world.batch.lot, ...world.lots), lotArb),
    'batches[]': fc.oneof({ weight: 4, arbitrary: lotArb }, { weight: 1, arbitrary: fc.constant(world.batch.lot) }),
    owner: fc.constantFrom(...otherLogins),
    deadline: deadlineArb,
    dueDate: futureIso,
    newDueAt: futureIso,
    notifiedAt: pastIso,
    reportedAt: pastIso,
    expiry: isoDateArb,
    reportedBy: fc.constantFrom('qa.lead@example.com', 'monitoring'),
    userId: fc.oneof(fc.constantFrom(...world.throwawayUsers.map((u) => u.id), world.drivers.qaLead.id), uuidArb),
    deviation: fc.oneof(fc.constantFrom(world.contained, world.investigating, world.changeControl), fc.constant('DEV-2026-999999')),
    cursor: cursorArb,
    email: emailArb,
    newPassword: passwordArb,
    currentPassword: passwordArb,
    sha256: sha256Arb,
  };
  if (op.path === '/auth/login') {
    // Never the cast's logins with a guessed password: throwaway logins (existing or not) only.
    hints.login = fc.oneof(fc.constantFrom(...world.throwawayUsers.map((u) => u.login)), nobodyArb);
    hints.password = fc.oneof(fc.constantFrom(...world.throwawayUsers.map((u) => u.password)), passwordArb);
  } else if (op.path === '/users') {
    hints.login = newLoginArb;
    hints.password = passwordArb;
    hints.printedName = fc.constantFrom('Fuzz Person', 'Ada Lovelace', 'Ünïcödé Nämé');
  } else {
    // Signing: the caller's own login and password often enough that some signatures go through.
    hints.login = fc.oneof(
      { weight: 3, arbitrary: fc.constant(me?.login ?? 'nobody') },
      { weight: 1, arbitrary: fc.constantFrom(...otherLogins) },
      { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    );
    hints.password = fc.oneof(
      { weight: 3, arbitrary: fc.constant(me?.password ?? 'Not-the-password-1') },
      { weight: 2, arbitrary: passwordArb },
    );
  }
  return hints;
}

// ---------------------------------------------------------------------------------------------
// Bodies and headers
// ---------------------------------------------------------------------------------------------

const minimalEpcisDocument = {
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'],
  type: 'EPCISDocument',
  schemaVersion: '2.0',
  creationDate: '2026-11-23T06:00:00Z',
  epcisBody: { eventList: [] as unknown[] },
};

function bodyFor(op: Operation, hints: Hints): fc.Arbitrary<Body> {
  if (isEpcisCapture(op)) {
    // The streamed EPCIS document: hostile bodies only.
    return fc.oneof(
      { weight: 3, arbitrary: rawBodies(minimalEpcisDocument) },
      { weight: 3, arbitrary: mutationsOf(minimalEpcisDocument) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Body>(
          {
            kind: 'raw',
            bytes: Buffer.from(`{"type":"EPCISDocument","epcisBody":${'['.repeat(20_000)}${']'.repeat(20_000)}}`),
            contentType: 'application/json',
            note: '20,000 levels in a streamed document',
          },
          {
            kind: 'raw',
            bytes: Buffer.from(
              '{"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-11-23T06:00:00Z","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"\\ud800"}]}}',
            ),
            contentType: 'application/ld+json',
            note: 'a lone surrogate in an event',
          },
          { kind: 'none', note: 'no body' },
        ),
      },
    );
  }
  if (op.body) {
    const valid = arbitraryFor(op.body, { hints, omitRate: 0.4 });
    return fc.oneof(
      { weight: 4, arbitrary: valid.map((value): Body => ({ kind: 'json', value, note: 'from the schema' })) },
      {
        weight: 3,
        arbitrary: arbitraryFor(op.body, { hints, hostileRate: 0.25 }).map((value): Body => ({
          kind: 'json',
          value,
          note: 'from the schema, hostile text in leaves',
        })),
      },
      { weight: 4, arbitrary: valid.chain((v) => mutationsOf(v)) },
      { weight: 1, arbitrary: valid.chain((v) => rawBodies(v)) },
    );
  }
  if (op.method === 'get' || op.method === 'options') {
    return fc.oneof(
      { weight: 8, arbitrary: fc.constant<Body>({ kind: 'none', note: 'no body' }) },
      { weight: 1, arbitrary: mutationsOf({ a: 'x' }) },
    );
  }
  // A change that takes no body: the audit trail still reads a reason from whatever body comes.
  const reasonField = fc.constantFrom('reason', 'justification', 'rationale', 'comment');
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<Body>({ kind: 'none', note: 'no body' }) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'json', value: {}, note: 'an empty object' }) },
    { weight: 2, arbitrary: mutationsOf({ reason: 'x', comment: 'y' }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(reasonField, fc.oneof(fc.constantFrom('a\u0000b', '\u0000', 'x\ud800', '\udfff', 'bell\u0007'), hostileString))
        .map(([field, text]): Body => ({ kind: 'json', value: { [field]: text }, note: `hostile text as the ${field}` })),
    },
  );
}

/** Header values Node sends as they are (latin1; no controls but tab). */
const HOSTILE_HEADER_VALUES = [
  '',
  ' ',
  '\t',
  'x'.repeat(4_000),
  '\u00ff\u00fe',
  'é',
  'null',
  "'; DROP TABLE sessions; --",
  '%00',
  'Bearer',
  'Bearer ',
  'Bearer a b',
  '../../etc/passwd',
];

function headersFor(op: Operation): fc.Arbitrary<Record<string, string>> {
  const extra: Array<fc.Arbitrary<Record<string, string>>> = [
    fc.constantFrom(...HOSTILE_HEADER_VALUES).map((v) => ({ 'X-Forwarded-For': v })),
    fc.constantFrom('text/csv', 'application/json', '*/*', 'application/problem+json', '\u00ff').map((v) => ({ Accept: v })),
  ];
  if (op.method === 'post' && op.path === '/deviations') {
    extra.push(
      fc
        .constantFrom('fuzz-key-1', 'x'.repeat(300), 'a\tb', ' ', '\u00e9\u00e9', '%00', "'; DROP TABLE idempotency_keys; --")
        .map((v) => ({ 'Idempotency-Key': v })),
    );
  }
  return fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.oneof(...extra) });
}

const credentialArb: fc.Arbitrary<Credential> = fc.oneof(
  { weight: 20, arbitrary: fc.constant<Credential>('role') },
  { weight: 1, arbitrary: fc.constantFrom<Credential>('none', 'both', 'bogus-bearer', 'bogus-key', 'basic') },
);

/** Credential headers of a case (the role's own, or a hostile variant). */
export function credentialHeaders(world: World, principal: PrincipalName, credential: Credential, bogus: string): Record<string, string> {
  const own = world.principals[principal].headers;
  switch (credential) {
    case 'role':
      return own;
    case 'none':
      return {};
    case 'both':
      return { Authorization: own.Authorization ?? 'Bearer x', 'X-API-Key': own['X-API-Key'] ?? 'gxp_x' };
    case 'bogus-bearer':
      return { Authorization: `Bearer ${bogus}` };
    case 'bogus-key':
      return { 'X-API-Key': bogus };
    case 'basic':
      return { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` };
  }
}

const built = new WeakMap<World, Map<string, fc.Arbitrary<FuzzCase>>>();

/** Every request the fuzz may send for an operation and a role. */
export function caseArb(world: World, op: Operation, principal: PrincipalName): fc.Arbitrary<FuzzCase> {
  const cache = built.get(world) ?? new Map<string, fc.Arbitrary<FuzzCase>>();
  built.set(world, cache);
  const key = `${op.method} ${op.path} ${principal}`;
  let arb = cache.get(key);
  if (!arb) cache.set(key, (arb = buildCaseArb(world, op, principal)));
  return arb;
}

function buildCaseArb(world: World, op: Operation, principal: PrincipalName): fc.Arbitrary<FuzzCase> {
  const hints = hintsFor(world, op, principal);
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const params = fc.tuple(...names.map((n) => paramValues(world, op, n)));
  return fc
    .record({
      params,
      query: queryFor(op, hints),
      headers: headersFor(op),
      body: bodyFor(op, hints),
      credential: credentialArb,
      bogus: fc.constantFrom(...HOSTILE_HEADER_VALUES),
    })
    .map(({ params, query, headers, body, credential, bogus }) => {
      let i = 0;
      const path = op.path.replace(/\{(\w+)\}/g, () => params[i++] ?? 'x');
      return { op, principal, credential, bogus, path: query ? `${path}?${query}` : path, headers, body };
    });
}

/** The role of a user principal (for throwaway sign-out sessions). */
export const userRoleOf = (p: PrincipalName): UserRole | undefined => (p === 'anonymous' || p === 'integration' ? undefined : p);

// ---------------------------------------------------------------------------------------------
// Query parameters at their edges
// ---------------------------------------------------------------------------------------------

/** The path of an operation with real records in it (the deviation in change control, the batch, …). */
export function realPath(world: World, op: Operation): string {
  return op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (op.path.startsWith('/users/')) return world.throwawayUsers[0]!.id;
    if (op.path.startsWith('/api-keys/')) return world.throwawayKeyIds[0]!;
    if (op.path.startsWith('/tasks/')) return `${world.contained}.T1`;
    if (name === 'id') return world.changeControl;
    if (name === 'lot') return world.batch.lot;
    if (name === 'cc') return 'CC1';
    if (name === 'actionId') return 'A1';
    return 'C1';
  });
}

const NUMBER_EDGES = ['-1', '1.5', '0x10', '%20%207%20', '', 'NaN', '9007199254740993', '9223372036854775808', '1e309'];
const STRING_EDGES = ['', 'a%00b', '%ED%A0%80', '%FF', 'x'.repeat(5_000), "'%3B%20DROP%20TABLE%20audit_trail%3B--"];

/** Values of one query parameter at its edges, encoded for the query string. */
function edgeValues(schema: unknown, hintValues: string[]): string[] {
  let def = defOf(schema as never);
  while (['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(def.type)) def = defOf((def.innerType ?? def.in) as never);
  if (def.type === 'number') {
    const bounds = (def.checks ?? []).map((c) => c._zod.def.value).filter((v): v is number => typeof v === 'number');
    return [...new Set([...bounds.flatMap((b) => [String(b - 1), String(b), String(b + 1)]), ...NUMBER_EDGES])];
  }
  if (def.type === 'enum')
    return [
      ...Object.values(def.entries ?? {})
        .map(String)
        .slice(0, 2),
      'x',
      '',
    ];
  return [...hintValues.map(encodeQueryValue), ...STRING_EDGES];
}

const QUERY_HINT_EDGES: Record<string, string[]> = {
  cursor: CURSOR_EDGES,
  run: [
    'first',
    'latest',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '------------------------------------',
  ],
  gtin: ['09506000134352', '09506000134353', '9506000134352', '00000000000000', '99999999999999'],
  from: ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-06-01T12:00:00+15:59', '2026-06-01T12:00:00-15:59', '2026-02-29T00:00:00Z'],
  to: ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2026-06-01T12:00:00+14:00'],
  userId: ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF'],
  deviation: ['DEV-2026-999999', `DEV-2026-${'9'.repeat(30)}`],
  batch: ['L1', '!~'],
};

/**
 * One request per query parameter and edge value, with a role that passes the route's role check
 * (taking the passing roles in turn), on real records: deterministic, so the parameters' parsing is
 * reached whatever the random draws do.
 */
export function queryEdgeCases(world: World, ops: Operation[]): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const op of ops) {
    if (!op.query) continue;
    const passing = PRINCIPALS.filter((p) => p !== 'anonymous' && mayPass(op, p));
    let turn = 0;
    for (const [key, schema] of Object.entries(op.query.shape)) {
      for (const value of edgeValues(schema, QUERY_HINT_EDGES[key] ?? [])) {
        const principal = passing[turn++ % passing.length]!;
        cases.push({
          op,
          principal,
          credential: 'role',
          bogus: '',
          path: `${realPath(world, op)}?${key}=${value}`,
          headers: {},
          body: { kind: 'none', note: `query edge: ${key}` },
        });
      }
    }
  }
  return cases;
}
