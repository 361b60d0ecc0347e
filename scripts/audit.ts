/**
 * Auditor commands (npm run audit -- <command>):
 *   replay DEV-2026-000123        replay the deviation's history (Temporal, else the archive) against the current code
 *   replay --file history.json    replay a history file (one run as the CLI writes it, or the API's export with all runs)
 *   verify-package evidence.zip   check an evidence package offline: manifest hashes, nothing missing or added
 *   history DEV-2026-000123       print the history export (all runs) to stdout
 *   archive                       archive every closed deviation not yet archived, now
 *   verify-trail                  recompute the audit trail's hash chain; list rows whose body digest can reveal a password
 * Exit status: 0 when the check holds, 1 when it does not, 2 when it could not run.
 */
import { readFileSync } from 'node:fs';
import { loadConfigOrExit } from '../lib/config';
import { connectTemporalClient } from '../lib/temporal';
import { createPool } from '../db/pool';
import { archiveClosedDeviations } from '../audit/archive';
import { historyFromJsonObject, type History } from '../audit/history-json';
import { loadWorkflowRecord, recordToJson } from '../audit/history';
import { currentWorkflowBundle, replayWorkflow, type ReplayVerdict } from '../audit/replay';
import { verifyEvidencePackage } from '../audit/evidence/verify';
import { verifyAuditTrail } from '../audit/trail';

const out = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

/** Runs in a history file: the API's export ({runs: [...]}) or a single history ({events: [...]}). */
export function runsFromFile(json: unknown): { workflowId: string; runs: Array<{ runId: string; history: History }> } {
  const o = json as { workflowId?: string; runs?: Array<{ runId?: string; events?: unknown }>; events?: unknown };
  const list: Array<{ runId?: string; events?: unknown }> = Array.isArray(o.runs) ? o.runs : [o];
  const runs = list.map((r, i) => ({ runId: r.runId ?? `run-${i + 1}`, history: historyFromJsonObject(r) }));
  const started = runs[0]?.history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return { workflowId: o.workflowId ?? started?.workflowId ?? 'replayed-workflow', runs };
}

function printVerdict(v: ReplayVerdict): number {
  out(v);
  for (const run of v.runs) {
    if (run.deterministic) process.stderr.write(`run ${run.runId}: deterministic (${run.events} events)\n`);
    else if (run.divergence)
      process.stderr.write(
        `run ${run.runId}: NOT deterministic: first diverging event ${run.divergence.eventId} (${run.divergence.eventType})\n`,
      );
    else process.stderr.write(`run ${run.runId}: replay failed: ${run.error?.message}\n`);
  }
  process.stderr.write(v.deterministic ? 'verdict: deterministic\n' : 'verdict: NOT deterministic\n');
  return v.deterministic ? 0 : 1;
}

async function withServices<T>(
  work: (deps: { temporal: Awaited<ReturnType<typeof connectTemporalClient>>; pool: ReturnType<typeof createPool> }) => Promise<T>,
): Promise<T> {
  const config = loadConfigOrExit();
  const pool = createPool(config.DATABASE_URL, 2);
  const temporal = await connectTemporalClient(config);
  try {
    return await work({ temporal, pool });
  } finally {
    await temporal.connection.close();
    await pool.end();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'replay': {
      if (args[0] === '--file') {
        if (!args[1]) throw new Error('usage: replay --file history.json');
        const { workflowId, runs } = runsFromFile(JSON.parse(readFileSync(args[1], 'utf8')));
        return printVerdict(await replayWorkflow(await currentWorkflowBundle(), workflowId, runs));
      }
      const id = args[0];
      if (!id) throw new Error('usage: replay DEV-YYYY-NNNNNN | replay --file history.json');
      return withServices(async (deps) => {
        const record = await loadWorkflowRecord(deps, id);
        if (!record) throw new Error(`no deviation ${id} in Temporal or in the archive`);
        return printVerdict(await replayWorkflow(await currentWorkflowBundle(), id, record.runs));
      });
    }
    case 'verify-package': {
      if (!args[0]) throw new Error('usage: verify-package evidence.zip');
      const result = verifyEvidencePackage(readFileSync(args[0]));
      out(result);
      process.stderr.write(
        result.ok
          ? `package of ${result.deviationId}: intact (${result.files} files)\n`
          : `package NOT intact:\n  ${result.problems.join('\n  ')}\n`,
      );
      return result.ok ? 0 : 1;
    }
    case 'history': {
      const id = args[0];
      if (!id) throw new Error('usage: history DEV-YYYY-NNNNNN');
      return withServices(async (deps) => {
        const record = await loadWorkflowRecord(deps, id);
        if (!record) throw new Error(`no deviation ${id} in Temporal or in the archive`);
        process.stdout.write(recordToJson(record));
        return 0;
      });
    }
    case 'archive':
      return withServices(async (deps) => {
        const archived = await archiveClosedDeviations(deps);
        out({ archived: archived.filter((a) => a.inserted).map(({ workflowId, runId, sha256 }) => ({ workflowId, runId, sha256 })) });
        return 0;
      });
    case 'verify-trail':
      return withServices(async ({ pool }) => {
        const result = await verifyAuditTrail(pool);
        out(result);
        if (result.legacySecretDigests.rows > 0) {
          process.stderr.write(
            `${result.legacySecretDigests.rows} row(s) keep the plain SHA-256 of a body that carried a password (written before digests became keyed HMACs); ` +
              'they stay (the trail is append-only): restrict who reads them and have the people concerned change their passwords\n',
          );
        }
        return result.ok ? 0 : 1;
      });
    default:
      process.stderr.write(
        'commands: replay DEV-… | replay --file history.json | verify-package file.zip | history DEV-… | archive | verify-trail\n',
      );
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`audit: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
