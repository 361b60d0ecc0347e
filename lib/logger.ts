import pino, { type Logger } from 'pino';

/** Structured JSON logs; credentials and tokens never reach them. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'password',
        '*.password',
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'headers.authorization',
        'token',
        '*.token',
        'databaseUrl',
        'newPassword',
        'currentPassword',
        '*.newPassword',
        '*.currentPassword',
        'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
