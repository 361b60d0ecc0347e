import { z } from 'zod';
import { freeText, safeString } from './text';

/**
 * Root-cause analysis in structured form. The schemas check shape; the refinements check the
 * rules an investigator would be held to (a fault tree with one top event, no cycles, every
 * leaf a basic event).
 */
const text = freeText(2000);
/** A node of a fault tree is named by a short identifier (it appears in gates' child lists and in messages). */
const nodeId = safeString().min(1).max(50);

export const fiveWhySchema = z
  .object({
    method: z.literal('five_why'),
    problem: text,
    whys: z
      .array(z.object({ question: text, answer: text }).strict())
      .min(3)
      .max(10),
    rootCause: text,
  })
  .strict();

export const FISHBONE_CATEGORIES = ['materials', 'method', 'machine', 'man', 'measurement', 'environment'] as const;

export const fishboneSchema = z
  .object({
    method: z.literal('fishbone'),
    effect: text,
    causes: z
      .object(
        Object.fromEntries(FISHBONE_CATEGORIES.map((c) => [c, z.array(text).max(20).default([])])) as Record<
          (typeof FISHBONE_CATEGORIES)[number],
          z.ZodDefault<z.ZodArray<typeof text>>
        >,
      )
      .strict(),
    /** Which category the confirmed cause sits in, and the cause itself (must be one listed). */
    rootCause: z.object({ category: z.enum(FISHBONE_CATEGORIES), cause: text }).strict(),
  })
  .strict()
  .superRefine((fb, ctx) => {
    const total = FISHBONE_CATEGORIES.reduce((n, c) => n + fb.causes[c].length, 0);
    if (total === 0) ctx.addIssue({ code: 'custom', path: ['causes'], message: 'a fishbone needs at least one cause' });
    if (!fb.causes[fb.rootCause.category].includes(fb.rootCause.cause)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rootCause', 'cause'],
        message: 'the root cause must be one of the causes listed under its category',
      });
    }
  });

const faultTreeNodeSchema = z.discriminatedUnion('type', [
  z.object({ id: nodeId, type: z.literal('basic'), label: text, probability: z.number().min(0).max(1).optional() }).strict(),
  z.object({ id: nodeId, type: z.enum(['and', 'or']), label: text, children: z.array(nodeId).min(1).max(50) }).strict(),
]);
export type FaultTreeNode = z.infer<typeof faultTreeNodeSchema>;

/** Structural problems of a fault tree; empty when it is a proper tree rooted at `top`. */
export function faultTreeProblems(top: string, nodes: FaultTreeNode[]): string[] {
  const problems: string[] = [];
  const byId = new Map<string, FaultTreeNode>();
  for (const n of nodes) {
    if (byId.has(n.id)) problems.push(`node ${n.id} is defined twice`);
    byId.set(n.id, n);
  }
  const topNode = byId.get(top);
  if (!topNode) return [...problems, `the top event ${top} is not among the nodes`];
  if (topNode.type === 'basic') problems.push('the top event must be a gate (AND/OR), not a basic event');

  const referenced = new Set<string>();
  for (const n of nodes) {
    if (n.type === 'basic') continue;
    for (const child of n.children) {
      referenced.add(child);
      if (!byId.has(child)) problems.push(`gate ${n.id} refers to an unknown node ${child}`);
    }
  }
  if (referenced.has(top)) problems.push('the top event cannot be a child of another node');
  const roots = nodes.filter((n) => !referenced.has(n.id)).map((n) => n.id);
  for (const r of roots) if (r !== top) problems.push(`node ${r} is not connected to the top event (a second top event)`);

  // Depth-first search with colours finds cycles.
  const colour = new Map<string, 'grey' | 'black'>();
  const visit = (id: string, path: string[]): void => {
    const node = byId.get(id);
    if (!node) return;
    if (colour.get(id) === 'grey') {
      problems.push(`cycle: ${[...path, id].join(' → ')}`);
      return;
    }
    if (colour.get(id) === 'black') return;
    colour.set(id, 'grey');
    if (node.type !== 'basic') for (const c of node.children) visit(c, [...path, id]);
    colour.set(id, 'black');
  };
  visit(top, []);
  return problems;
}

export const faultTreeSchema = z
  .object({
    method: z.literal('fault_tree'),
    top: nodeId,
    nodes: z.array(faultTreeNodeSchema).min(2).max(200),
    /** The basic events confirmed as root causes. */
    rootCauses: z.array(nodeId).min(1).max(200),
  })
  .strict()
  .superRefine((ft, ctx) => {
    for (const p of faultTreeProblems(ft.top, ft.nodes)) ctx.addIssue({ code: 'custom', path: ['nodes'], message: p });
    const basics = new Set(ft.nodes.filter((n) => n.type === 'basic').map((n) => n.id));
    for (const rc of ft.rootCauses) {
      if (!basics.has(rc)) ctx.addIssue({ code: 'custom', path: ['rootCauses'], message: `${rc} is not a basic event of the tree` });
    }
  });

export const rootCauseAnalysisSchema = z.union([fiveWhySchema, fishboneSchema, faultTreeSchema]);
export type RootCauseAnalysis = z.infer<typeof rootCauseAnalysisSchema>;

/** ICH Q9 style risk: severity × occurrence × detectability (1–5 each), or a risk class directly. */
export const riskAssessmentSchema = z.union([
  z
    .object({
      method: z.literal('fmea'),
      severity: z.number().int().min(1).max(5),
      occurrence: z.number().int().min(1).max(5),
      detectability: z.number().int().min(1).max(5),
      rationale: text,
    })
    .strict(),
  z.object({ method: z.literal('risk_class'), riskClass: z.enum(['low', 'medium', 'high']), rationale: text }).strict(),
]);
export type RiskAssessment = z.infer<typeof riskAssessmentSchema>;

export function riskClassOf(r: RiskAssessment): 'low' | 'medium' | 'high' {
  if (r.method === 'risk_class') return r.riskClass;
  const rpn = r.severity * r.occurrence * r.detectability;
  return rpn >= 40 ? 'high' : rpn >= 15 ? 'medium' : 'low';
}
