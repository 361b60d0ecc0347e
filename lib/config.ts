import { z } from 'zod';

/**
 * Every process reads its configuration from the environment once, at start-up, through this
 * schema; a bad value stops the process with a message naming the variable.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/gxp_deviation_engine'),
  TEMPORAL_ADDRESS: z.string().min(3).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('deviations'),
  /**
   * TLS to the Temporal frontend (Temporal Cloud, or a cluster that terminates TLS). Unset, TLS is
   * used when any of the TLS files or an API key is given; `false` with either is refused, since
   * the key or the client certificate would travel unencrypted or the server would refuse them.
   */
  TEMPORAL_TLS: z.stringbool().optional(),
  /** PEM CA certificate of a self-hosted cluster's private CA; without it the system's CAs verify the server. */
  TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
  /** PEM client certificate and its key, for mTLS (Temporal Cloud's certificate auth, or a cluster requiring client certificates). */
  TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
  /** The server name the certificate is checked against, when it differs from TEMPORAL_ADDRESS's host (a proxy in between). */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** Temporal Cloud API key, sent as a bearer token on every call (an alternative to the client certificate). */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Policy file; when absent, the built-in production policy applies. */
  POLICY_FILE: z.string().optional(),
  /** Largest request body the API accepts, for EPCIS capture documents in particular. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(512 * 1024 * 1024),
  /** Shared secret for machine clients (EPCIS capture) until they have API keys of their own. */
  CAPTURE_API_KEY: z.string().min(16).optional(),
  /** The company's GLN, named as responderGLN in the answers to DSCSA verification requests. */
  DSCSA_RESPONDER_GLN: z
    .string()
    .regex(/^\d{13}$/, 'a GLN of 13 digits')
    .optional(),
  /** Sessions end after this many minutes without a request (Annex 11 §12: idle sessions close). */
  SESSION_IDLE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(30),
  /** Sessions end this many hours after sign-in, however active. */
  SESSION_MAX_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24)
    .default(12),
  /** Failed re-authentications at signing, within SIGNING_LOCK_MINUTES, that lock signing for the user. */
  SIGNING_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(3),
  /** Both the window in which failures count and how long signing stays locked. */
  SIGNING_LOCK_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15),
  /** When set, notifications are POSTed here as JSON; otherwise they are logged. */
  NOTIFICATION_WEBHOOK_URL: z.string().url().optional(),
  /** When set, each webhook request carries an HMAC-SHA256 of its body (X-Signature header). */
  NOTIFICATION_WEBHOOK_SECRET: z.string().min(16).optional(),
  /**
   * Key that seals the signatureToken of each EPCIS query subscription in the database (AES-256-GCM,
   * epcis/subscription-tokens.ts): 32+ random characters, kept secret and stable, since a token sealed
   * under another key can no longer sign deliveries. Unset, subscriptions with a signatureToken are
   * refused (an unsigned one is still accepted).
   */
  EPCIS_SUBSCRIPTION_KEY: z.string().min(32).optional(),
  /**
   * Hosts (names or IP addresses, comma-separated) a subscription's webhook may reach although they
   * are loopback or private, and over plain http: a receiver inside the company's network, or a
   * test's on 127.0.0.1. Every other destination must be https to a public address (no SSRF into the
   * company's own network).
   */
  EPCIS_SUBSCRIPTION_ALLOWED_HOSTS: z
    .string()
    .max(2000)
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    ),
  /**
   * Key of the HMAC-SHA-256 the audit trail keeps of each request body (details.bodyHmac), secrets
   * removed. Production must set it (32+ random characters, kept secret and stable): unset, each
   * process draws a random key, and its digests can no longer be checked once it stops.
   */
  AUDIT_HMAC_KEY: z.string().min(32).optional(),
  /** Time a client has to send a request's headers. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  /**
   * Time a client has to send a whole request. Streamed uploads (EPCIS capture, repository reports)
   * of hundreds of MB count too, so this is an hour; what drops a slow client is BODY_STALL_TIMEOUT_MS.
   */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(60 * 60_000),
  /** An idle keep-alive connection is closed after this long. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  /** A request body from which no byte arrives for this long is dropped (nothing of it stored). */
  BODY_STALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  /**
   * Streamed uploads (EPCIS capture, repository reports) storing at once per API process, each
   * holding a database connection: kept below the API's pool of 10 so that sign-in, signatures and
   * /health always find one. Past it an upload is answered 503 with Retry-After.
   */
  STREAMED_UPLOADS_MAX: z.coerce.number().int().min(1).max(100).default(4),
  /** Failed sign-ins (or current-password checks) for one login, within SIGN_IN_WINDOW_MINUTES, that lock it (21 CFR 11.300(d)). */
  SIGN_IN_MAX_FAILURES: z.coerce.number().int().min(1).max(100).default(5),
  /** Failed sign-ins from one client address (an IPv6 /64), within SIGN_IN_WINDOW_MINUTES, that lock the address. */
  SIGN_IN_ADDRESS_MAX_FAILURES: z.coerce.number().int().min(1).max(10_000).default(20),
  /** The window in which sign-in failures count. */
  SIGN_IN_WINDOW_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15),
  /** How long a locked login or address is refused, even with the right password. */
  SIGN_IN_LOCK_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15),
  /**
   * Behind a reverse proxy, how many proxy hops to trust for the client's address (X-Forwarded-For).
   * Unset, the address is the connection's peer: behind a proxy every client would share the
   * proxy's address, and so its sign-in limit.
   */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(1).max(10).optional(),
});

export type AppConfig = z.infer<typeof envSchema>;

export class ConfigError extends Error {}

/** Rules between variables, once each is valid on its own: `[variable, problem]` pairs. */
function crossVariableProblems(config: AppConfig): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  if (Boolean(config.TEMPORAL_TLS_CERT_FILE) !== Boolean(config.TEMPORAL_TLS_KEY_FILE)) {
    const missing = config.TEMPORAL_TLS_CERT_FILE ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE';
    problems.push([missing, 'a client certificate and its key are given together']);
  }
  if (config.TEMPORAL_TLS === false && (config.TEMPORAL_API_KEY || config.TEMPORAL_TLS_CERT_FILE)) {
    problems.push(['TEMPORAL_TLS', 'an API key or a client certificate is only sent over TLS']);
  }
  return problems;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const problems = crossVariableProblems(parsed.data);
  if (problems.length) {
    throw new ConfigError(`Invalid configuration:\n${problems.map(([variable, problem]) => `  ${variable}: ${problem}`).join('\n')}`);
  }
  return parsed.data;
}

/** For entry points: load the configuration or print why not and exit. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
