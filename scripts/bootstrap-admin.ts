/**
 * `npm run bootstrap-admin -- --login … --name "…" --email …` creates the first administrator.
 * The password comes from BOOTSTRAP_ADMIN_PASSWORD or standard input (typed without echo on a
 * terminal, or piped); there is no default password. Refuses once an administrator exists.
 */
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { AdminExistsError, bootstrapAdmin } from '../auth/bootstrap';
import { createPool } from '../db/pool';
import { loadConfigOrExit } from '../lib/config';

const USAGE =
  'usage: npm run bootstrap-admin -- --login <login> --name "<printed name>" --email <e-mail>\n' +
  '       (password from BOOTSTRAP_ADMIN_PASSWORD or standard input)\n';

/** Reads a password from a terminal without echoing it, or one line from a pipe. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write('Password for the new administrator: ');
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (fn: () => void) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      fn();
    };
    const onData = (chars: string) => {
      for (const ch of chars) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(typed));
        if (ch === '\u0003') return done(() => reject(new Error('cancelled')));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { login: { type: 'string' }, name: { type: 'string' }, email: { type: 'string' } },
    strict: true,
  });
  if (!values.login || !values.name || !values.email) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfigOrExit();
  const password = process.env.BOOTSTRAP_ADMIN_PASSWORD ?? (await readPassword());
  const pool = createPool(config.DATABASE_URL, 1);
  try {
    const admin = await bootstrapAdmin(pool, { login: values.login, printedName: values.name, email: values.email, password });
    process.stdout.write(`Created administrator ${admin.login} (${admin.printedName}), id ${admin.id}.\n`);
    return 0;
  } catch (err) {
    if (err instanceof AdminExistsError) {
      process.stderr.write(`${err.message}\n`);
      return 3;
    }
    if (err instanceof ZodError) {
      const lines = err.issues.map((i) => `  ${i.path.join('.') || '(input)'}: ${i.message}`);
      process.stderr.write(`Cannot create the administrator:\n${lines.join('\n')}\n`);
      return 2;
    }
    if ((err as { code?: string }).code === '42P01') {
      process.stderr.write('The database has no users table yet: run `npm run migrate` first.\n');
      return 1;
    }
    throw err;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bootstrap-admin failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
