import { Badge, Group, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import { Countdown, Time } from '../../components/common';
import { StepForm, toIso } from '../../components/StepForm';
import { label } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Reveal, Section } from './blocks';
import { useDeviationSteps } from './steps';

const FRAMEWORK_NAMES: Record<string, string> = { dscsa: 'DSCSA', eu_fmd: 'EU FMD' };
const frameworkName = (f: string) => FRAMEWORK_NAMES[f] ?? f;

/** The stages whose Update validator takes a suspect-product report (workflows/deviation/steps.ts). */
const SUSPECT_PRODUCT_STAGES: readonly string[] = ['containment', 'investigation', 'capa', 'change_control', 'effectiveness_check'];

/**
 * Suspect product and the regulatory clocks it starts (DSCSA illegitimate product, EU FMD
 * suspected falsification): each clock counts down until every recipient its framework requires
 * has been notified. The forms appear only for the roles the routes let through and only where the
 * workflow takes the step: a report while no clock of that framework runs and the deviation is
 * between containment and the effectiveness check, a notification while a clock runs.
 */
export function Regulatory({ d }: { d: DeviationState }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  const running = d.regulatory.filter((r) => !r.completedAt);
  const reportable = steps.reportSuspectProductSchema.shape.framework.options.filter((f) => !running.some((r) => r.framework === f));
  const stillToNotify = [
    ...new Set(running.flatMap((r) => r.required.filter((recipient) => !r.notifications.some((n) => n.recipient === recipient)))),
  ];
  return (
    <>
      {d.regulatory.map((r, i) => (
        <Section key={i} title={`Regulatory clock: ${frameworkName(r.framework)} (${label(r.finding)})`}>
          <Group>
            {r.completedAt ? <Badge color="green">notified</Badge> : <Countdown dueAt={r.dueAt} label="regulatory notification" />}
            {r.completedAt && r.late ? <Badge color="orange">late</Badge> : null}
            <Text size="sm">required: {r.required.map(label).join(', ')}</Text>
          </Group>
          <Text size="sm">
            {r.details} — reported by {r.reportedBy}, <Time value={r.startedAt} />
          </Text>
          {r.notifications.map((n, j) => (
            <Text key={j} size="sm">
              {label(n.recipient)} — {n.reference}, <Time value={n.notifiedAt} /> by {n.recordedBy}
            </Text>
          ))}
        </Section>
      ))}
      {!terminal && running.length > 0 && may('regulatory-notifications') ? (
        <StepForm
          title="Record a regulatory notification"
          intro={stillToNotify.length ? `Still to notify: ${stillToNotify.map(label).join(', ')}.` : undefined}
          schema={steps.recordRegulatoryNotificationSchema}
          fields={[
            { name: 'recipient', label: 'Recipient', kind: 'select', options: steps.REGULATORY_RECIPIENTS },
            { name: 'reference', label: 'Reference', kind: 'text', description: 'the form, case or alert number' },
            { name: 'summary', label: 'Summary', kind: 'textarea' },
            { name: 'notifiedAt', label: 'Notified at (your local time)', kind: 'datetime', description: 'empty: now' },
          ]}
          toBody={(v) => ({
            recipient: v.recipient || undefined,
            reference: v.reference,
            summary: v.summary,
            ...(v.notifiedAt ? { notifiedAt: toIso(String(v.notifiedAt)) } : {}),
          })}
          submit={post('regulatory-notifications')}
          submitLabel="Record the notification"
          onDone={refresh}
        />
      ) : null}
      {SUSPECT_PRODUCT_STAGES.includes(d.stage) && reportable.length > 0 && may('suspect-product') ? (
        <Reveal label="Report a suspect product…">
          <StepForm
            title="Report a suspect product"
            intro="The report starts the regulatory clock: QA must notify the recipients its framework requires before it runs out."
            schema={steps.reportSuspectProductSchema}
            fields={[
              { name: 'framework', label: 'Framework', kind: 'select', options: reportable, optionLabel: frameworkName },
              {
                name: 'finding',
                label: 'Finding',
                kind: 'select',
                options: steps.reportSuspectProductSchema.shape.finding.options,
                description: 'DSCSA: illegitimate; EU FMD: suspected falsified',
              },
              { name: 'details', label: 'Details', kind: 'textarea' },
            ]}
            toBody={(v) => ({ framework: v.framework || undefined, finding: v.finding || undefined, details: v.details })}
            submit={post('suspect-product')}
            submitLabel="Report the suspect product"
            onDone={refresh}
          />
        </Reveal>
      ) : null}
    </>
  );
}
