import { Badge, Group, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import type { InvestigationRound } from '@workflows/types';
import { Countdown, Time } from '../../components/common';
import { StepForm } from '../../components/StepForm';
import { label, utc } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';
import { useDeviationSteps } from './steps';

/** A round's effectiveness check: the scheduled checks' verdicts, and QA's decision when the data did not suffice. */
export function Effectiveness({ d, r, current }: { d: DeviationState; r: InvestigationRound; current: boolean }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  return (
    <>
      <Section title="Effectiveness check">
        {r.effectiveness.scheduledFor ? (
          <Group>
            <Text size="sm">
              Scheduled for <Time value={r.effectiveness.scheduledFor} />
            </Text>
            {!r.effectiveness.checks.length && d.stage === 'effectiveness_check' ? (
              <Countdown dueAt={r.effectiveness.scheduledFor} label="effectiveness check" />
            ) : null}
          </Group>
        ) : (
          <Text size="sm">Not scheduled yet (after CAPA and change control).</Text>
        )}
        {r.effectiveness.checks.map((c, i) => (
          <Text key={i} size="sm" data-effectiveness-check>
            <Badge color={c.verdict === 'effective' ? 'green' : c.verdict === 'not_effective' ? 'red' : 'gray'}>{label(c.verdict)}</Badge>{' '}
            <Time value={c.evaluatedAt} /> — {c.batchesEvaluated} batch(es) since {utc(c.since)}, duplicates {c.duplicateSerials},
            aggregation error rate {c.aggregationErrorRate}. {c.reasons.join(' ')}
          </Text>
        ))}
        {r.effectiveness.decision ? (
          <Text size="sm">
            QA decided: <strong>{r.effectiveness.decision.effective ? 'effective' : 'not effective'}</strong> —{' '}
            {r.effectiveness.decision.rationale} ({r.effectiveness.decision.by})
          </Text>
        ) : null}
        {r.effectiveness.verification ? <Attributed a={r.effectiveness.verification} /> : null}
      </Section>
      {current && d.stage === 'effectiveness_check' && r.effectiveness.decisionRequired && may('effectiveness/decide') ? (
        <StepForm
          title="Decide the effectiveness (not enough data)"
          schema={steps.decideEffectivenessSchema}
          fields={[
            { name: 'effective', label: 'The CAPA was effective', kind: 'switch' },
            { name: 'rationale', label: 'Rationale', kind: 'textarea' },
          ]}
          toBody={(v) => ({ effective: Boolean(v.effective), rationale: v.rationale })}
          submit={post('effectiveness/decide')}
          submitLabel="Record the decision"
          onDone={refresh}
        />
      ) : null}
    </>
  );
}
