import type { ErrorRequestHandler, Response } from 'express';
import { ZodError } from 'zod';

/**
 * RFC 9457 problem details: every refusal the API gives goes through here, so clients see one
 * shape (type, title, status, detail, plus `errors` naming each bad field).
 */
export interface FieldProblem {
  path: string;
  message: string;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

export const badRequest = (detail: string, errors?: FieldProblem[]) =>
  new HttpProblem(400, 'Bad Request', detail, errors ? { errors } : {});
export const notFound = (detail: string) => new HttpProblem(404, 'Not Found', detail);
export const conflict = (detail: string, extra?: Record<string, unknown>) => new HttpProblem(409, 'Conflict', detail, extra);
export const unprocessable = (detail: string) => new HttpProblem(422, 'Unprocessable Content', detail);
export const unavailable = (detail: string) => new HttpProblem(503, 'Service Unavailable', detail);

export function zodProblems(err: ZodError): FieldProblem[] {
  return err.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(body)',
    message: issue.message,
  }));
}

export function sendProblem(res: Response, problem: HttpProblem): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({
      type: 'about:blank',
      title: problem.title,
      status: problem.status,
      ...(problem.detail ? { detail: problem.detail } : {}),
      ...problem.extra,
    });
}

/** The last middleware: turns thrown problems, validation errors and body-parser errors into problem+json. */
export function problemHandler(log: { error: (obj: object, msg: string) => void }): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpProblem) return sendProblem(res, err);
    if (err instanceof ZodError) return sendProblem(res, badRequest('The request is invalid.', zodProblems(err)));
    const status = typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : 500;
    if (status === 413)
      return sendProblem(res, new HttpProblem(413, 'Content Too Large', 'The request body exceeds the configured limit.'));
    if (status >= 400 && status < 500) {
      return sendProblem(
        res,
        new HttpProblem(
          status,
          'Bad Request',
          err.type === 'entity.parse.failed' ? 'The body is not valid JSON.' : String(err.message ?? 'Bad request'),
        ),
      );
    }
    log.error({ err: { message: err?.message, stack: err?.stack }, method: req.method, url: req.originalUrl }, 'unhandled error');
    return sendProblem(res, new HttpProblem(500, 'Internal Server Error', 'An unexpected error occurred; it has been logged.'));
  };
}
