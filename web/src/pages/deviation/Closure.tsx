import { Stack, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import { SignatureLine } from '../../components/common';
import { StepForm } from '../../components/StepForm';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';
import { useDeviationSteps } from './steps';

/** Closure: the disposition of every held batch, then the dual approval. */
export function Closure({ d }: { d: DeviationState }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  return (
    <Stack>
      {d.stage === 'closure' && may('dispositions') && d.containment.holds.some((h) => !h.disposition) ? (
        <StepForm
          title="Disposition of a held batch"
          schema={steps.recordDispositionSchema}
          fields={[
            {
              name: 'lot',
              label: 'Batch',
              kind: 'select',
              options: d.containment.holds.filter((h) => !h.disposition).map((h) => h.lot),
            },
            { name: 'disposition', label: 'Disposition', kind: 'select', options: ['release', 'reject'] },
            { name: 'reason', label: 'Reason', kind: 'textarea' },
          ]}
          toBody={(v) => v}
          submit={post('dispositions')}
          submitLabel="Record the disposition"
          onDone={refresh}
        />
      ) : null}
      <Section title="Closure approval">
        {d.closure.approval ? (
          <Attributed a={d.closure.approval} />
        ) : (
          <Text size="sm">
            {d.stage === 'closure' ? 'Awaiting the dual approval (two different people): see Overview.' : 'Not reached yet.'}
          </Text>
        )}
        {d.tasks
          .filter((t) => t.gate === 'closure_approval')
          .flatMap((t) => t.signatures)
          .map((s, i) => (
            <SignatureLine key={i} signature={s} />
          ))}
      </Section>
    </Stack>
  );
}
