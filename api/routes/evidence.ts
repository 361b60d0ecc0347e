import type { Router } from 'express';
import { z } from 'zod';
import { DEVIATION_ID_PATTERN } from '../../domain/deviation';
import { collectEvidence } from '../../audit/evidence/collect';
import { buildEvidencePackage } from '../../audit/evidence/package';
import { loadWorkflowRecord, recordToJson, type WorkflowRecord } from '../../audit/history';
import { currentWorkflowBundle, replayWorkflow } from '../../audit/replay';
import type { Role } from '../../domain/roles';
import type { ApiContext } from '../context';
import { notFound } from '../problem';
import { declaredRoutes, queryOf, type RouteSpec } from '../route';

function deviationId(raw: unknown): string {
  const id = String(raw);
  if (!DEVIATION_ID_PATTERN.test(id)) throw notFound(`No deviation ${id}.`);
  return id;
}

async function recordOr404(ctx: ApiContext, id: string): Promise<WorkflowRecord> {
  const record = await loadWorkflowRecord(ctx, id);
  if (!record) throw notFound(`No deviation ${id}, neither in Temporal nor in the archive.`);
  return record;
}

/** Who reads a deviation's record as evidence: auditors and QA (a replay changes nothing, so auditors may run it). */
export const EVIDENCE_ROLES: Role[] = ['auditor', 'qa_head', 'qa_lead', 'qa_approver'];

const historyQuerySchema = z
  .object({ run: z.union([z.literal('first'), z.literal('latest'), z.string().regex(/^[0-9a-f-]{36}$/, 'a run ID')]).optional() })
  .strict();

export const EVIDENCE_ROUTES = {
  /**
   * Without `run`: every run, oldest first, `{workflowId, source, runs: [{runId, sha256, events}]}`
   * (each element of runs is itself a history file). With `run=<id>|first|latest`: that run's
   * history byte for byte as `temporal workflow show --output json` prints it.
   */
  history: {
    method: 'get',
    path: '/deviations/:id/history',
    summary: 'Full event history, as `temporal workflow show --output json` writes it',
    roles: EVIDENCE_ROLES,
    query: historyQuerySchema,
  },
  /** Replays every run against the workflow code this process runs; 200 with the verdict either way. */
  replay: {
    method: 'post',
    path: '/deviations/:id/replay',
    summary: 'Replay the history against the deployed workflow code',
    roles: EVIDENCE_ROLES,
  },
  evidence: {
    method: 'get',
    path: '/deviations/:id/evidence',
    summary: 'Inspection evidence package (zip)',
    roles: EVIDENCE_ROLES,
    produces: 'application/zip',
  },
} satisfies Record<string, RouteSpec>;

/**
 * What an auditor reads about one deviation: its durable history (from Temporal, or the archive
 * once Temporal has dropped it), a replay of that history against the current code, and the
 * inspection evidence package.
 */
export function evidenceRoutes(ctx: ApiContext): Router {
  const routes = declaredRoutes(ctx);

  routes.add(EVIDENCE_ROUTES.history, async (req, res) => {
    const id = deviationId(req.params.id);
    const q = queryOf(EVIDENCE_ROUTES.history, req);
    const record = await recordOr404(ctx, id);
    res.set('X-History-Source', record.source);
    if (!q.run) {
      res.type('application/json').send(recordToJson(record));
      return;
    }
    const run =
      q.run === 'first'
        ? record.runs[0]
        : q.run === 'latest'
          ? record.runs[record.runs.length - 1]
          : record.runs.find((r) => r.runId === q.run);
    if (!run) throw notFound(`Deviation ${id} has no run ${q.run}.`);
    res.set('X-Run-Id', run.runId).set('Digest', `sha-256=${Buffer.from(run.sha256, 'hex').toString('base64')}`);
    res.type('application/json').send(run.text);
  });

  routes.add(EVIDENCE_ROUTES.replay, async (req, res) => {
    const id = deviationId(req.params.id);
    const record = await recordOr404(ctx, id);
    const verdict = await replayWorkflow(await currentWorkflowBundle(), id, record.runs);
    res.json({ ...verdict, historySource: record.source, replayedAt: new Date().toISOString() });
  });

  routes.add(EVIDENCE_ROUTES.evidence, async (req, res) => {
    const id = deviationId(req.params.id);
    const data = await collectEvidence(ctx, id);
    if (!data) throw notFound(`No deviation ${id}, neither in Temporal nor in the archive.`);
    const { zip, manifest } = await buildEvidencePackage(data);
    res
      .status(200)
      .type('application/zip')
      .attachment(`${id}-evidence-${manifest.generatedAt.slice(0, 10)}.zip`)
      .set('X-History-Source', manifest.historySource)
      .send(zip);
  });

  return routes.router;
}
