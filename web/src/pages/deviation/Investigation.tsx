import { Alert, Badge, Grid, Stack, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import type { InvestigationRound } from '@workflows/types';
import { Time } from '../../components/common';
import { RcaForm, RcaView } from '../../components/Rca';
import { StepForm } from '../../components/StepForm';
import { label } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';
import { useDeviationSteps } from './steps';

/** A round's investigation: root-cause analyses, the report and its approval, evidence, contributions, risk. */
export function Investigation({ d, r, current }: { d: DeviationState; r: InvestigationRound; current: boolean }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  const inv = r.investigation;
  const investigating = current && d.stage === 'investigation' && !inv.approval;
  return (
    <Grid>
      <Grid.Col span={{ base: 12, lg: 7 }}>
        <Stack>
          <Section title="Root-cause analysis">
            {inv.analyses.length === 0 ? <Text size="sm">No analysis recorded yet.</Text> : null}
            {inv.analyses.map((a, i) => (
              <Stack key={i} gap={4}>
                <Text size="sm" fw={700}>
                  {label(a.analysis.method)} — by {a.by}, <Time value={a.at} />
                </Text>
                <RcaView analysis={a.analysis} />
              </Stack>
            ))}
          </Section>
          {investigating && may('root-cause-analyses') ? (
            <RcaForm key={inv.analyses.length} submit={post('root-cause-analyses')} onDone={refresh} />
          ) : null}
          <Section title="Investigation report">
            {inv.report ? (
              <>
                <Text size="sm">
                  <strong>Summary:</strong> {inv.report.summary}
                </Text>
                <Text size="sm">
                  <strong>Root cause:</strong> {inv.report.rootCause}
                </Text>
                <Attributed a={inv.report} />
              </>
            ) : (
              <Text size="sm">Not submitted.</Text>
            )}
            {inv.rejections.map((x, i) => (
              <Alert key={i} color="orange" variant="light" title="Report rejected">
                {x.reason}
                <Attributed a={x} />
              </Alert>
            ))}
            {inv.approval ? (
              <>
                <Text size="sm" fw={700}>
                  Approved
                </Text>
                <Attributed a={inv.approval} />
              </>
            ) : null}
          </Section>
          {investigating && !inv.report && may('investigation/report') ? (
            <StepForm
              title="Submit the investigation report"
              schema={steps.submitInvestigationReportSchema}
              fields={[
                { name: 'summary', label: 'Summary', kind: 'textarea' },
                { name: 'rootCause', label: 'Root cause', kind: 'textarea' },
              ]}
              toBody={(v) => v}
              submit={post('investigation/report')}
              submitLabel="Submit the report"
              onDone={refresh}
            />
          ) : null}
        </Stack>
      </Grid.Col>
      <Grid.Col span={{ base: 12, lg: 5 }}>
        <Stack>
          <Section title="Evidence">
            {inv.evidence.length === 0 ? <Text size="sm">None yet.</Text> : null}
            {inv.evidence.map((e, i) => (
              <Text key={i} size="sm">
                {label(e.kind)}: <strong>{e.ref}</strong> {e.title}{' '}
                {e.sha256 ? <span className="mono">sha256 {e.sha256.slice(0, 16)}…</span> : null} — {e.addedBy}
              </Text>
            ))}
          </Section>
          {investigating && may('evidence') ? (
            <StepForm
              title="Add evidence"
              schema={steps.addEvidenceSchema}
              fields={[
                { name: 'kind', label: 'Kind', kind: 'select', options: steps.EVIDENCE_KINDS },
                { name: 'ref', label: 'Reference', kind: 'text' },
                { name: 'title', label: 'Title', kind: 'text' },
                { name: 'sha256', label: 'SHA-256 (for a document)', kind: 'text' },
              ]}
              toBody={(v) => ({
                items: [
                  {
                    kind: v.kind || undefined,
                    ref: v.ref,
                    title: v.title,
                    ...(v.sha256 ? { sha256: String(v.sha256).trim().toLowerCase() } : {}),
                  },
                ],
              })}
              fieldOf={(p) => p.replace(/^items\.0\./, '').split('.')[0] ?? p}
              submit={post('evidence')}
              submitLabel="Add the evidence"
              onDone={refresh}
            />
          ) : null}
          <Section title="Contributions">
            {inv.contributions.length === 0 ? <Text size="sm">None yet.</Text> : null}
            {inv.contributions.map((c, i) => (
              <Text key={i} size="sm">
                <strong>{label(c.function)}</strong> ({c.by}): {c.summary}
              </Text>
            ))}
          </Section>
          {investigating && may('contributions') ? (
            <StepForm
              title="Add a contribution"
              schema={steps.addContributionSchema}
              fields={[
                { name: 'function', label: 'Function', kind: 'select', options: steps.FUNCTIONS },
                { name: 'summary', label: 'Summary', kind: 'textarea' },
              ]}
              toBody={(v) => ({ function: v.function || undefined, summary: v.summary })}
              submit={post('contributions')}
              submitLabel="Add the contribution"
              onDone={refresh}
            />
          ) : null}
          <Section title="Risk assessment">
            {inv.risk ? (
              <Text size="sm">
                <Badge color={inv.risk.riskClass === 'high' ? 'red' : inv.risk.riskClass === 'medium' ? 'orange' : 'green'}>
                  {inv.risk.riskClass} risk
                </Badge>{' '}
                {inv.risk.assessment.method === 'fmea'
                  ? `FMEA S${inv.risk.assessment.severity} × O${inv.risk.assessment.occurrence} × D${inv.risk.assessment.detectability} = RPN ${inv.risk.assessment.severity * inv.risk.assessment.occurrence * inv.risk.assessment.detectability}`
                  : 'risk class'}{' '}
                — {inv.risk.assessment.rationale} ({inv.risk.by})
              </Text>
            ) : (
              <Text size="sm">Not assessed.</Text>
            )}
          </Section>
          {investigating && may('risk-assessment') ? (
            <StepForm
              title="Assess the risk (FMEA)"
              schema={steps.recordRiskAssessmentSchema}
              fields={[
                { name: 'severity', label: 'Severity (1–5)', kind: 'number' },
                { name: 'occurrence', label: 'Occurrence (1–5)', kind: 'number' },
                { name: 'detectability', label: 'Detectability (1–5)', kind: 'number' },
                { name: 'rationale', label: 'Rationale', kind: 'textarea' },
              ]}
              toBody={(v) => ({
                assessment: {
                  method: 'fmea',
                  severity: Number(v.severity) || undefined,
                  occurrence: Number(v.occurrence) || undefined,
                  detectability: Number(v.detectability) || undefined,
                  rationale: v.rationale,
                },
              })}
              fieldOf={(p) => p.replace(/^assessment\./, '').split('.')[0] ?? p}
              submit={post('risk-assessment')}
              submitLabel="Record the assessment"
              onDone={refresh}
            />
          ) : null}
        </Stack>
      </Grid.Col>
    </Grid>
  );
}
