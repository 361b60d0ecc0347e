import { Stack, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useRef } from 'react';
import { useNavigate } from 'react-router';
import { openDeviationSchema, SEVERITIES, SYMPTOMS } from '@domain/deviation';
import { StepForm, toList, type FormValues } from '../components/StepForm';
import { api } from '../lib/api';
import { usePermissions } from '../permissions';

const toBody = (v: FormValues) => ({
  title: v.title,
  symptom: v.symptom || undefined,
  severity: v.severity || undefined,
  batches: toList(v.batches),
  lines: toList(v.lines),
  gtins: toList(v.gtins),
  description: v.description,
});

/**
 * Opening a deviation: every field of POST /deviations, checked by the API's own schema as it is
 * typed. The Idempotency-Key is made once per form: a double click, or sending again after a lost
 * answer, opens one deviation.
 */
export function OpenDeviationPage() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { can, ready } = usePermissions();
  const key = useRef(crypto.randomUUID());
  if (ready && !can('post', '/deviations')) {
    return (
      <Stack>
        <Title order={2}>Open a deviation</Title>
        <Text>Opening a deviation is for QA leads.</Text>
      </Stack>
    );
  }
  return (
    <Stack maw={760}>
      <Title order={2}>Open a deviation</Title>
      <StepForm
        title="What happened"
        intro="The containment clock starts as soon as the deviation is opened: holds are placed on every batch, shipments traced and the team alerted."
        schema={openDeviationSchema}
        toBody={toBody}
        fields={[
          { name: 'title', label: 'Title', kind: 'text', required: true },
          { name: 'symptom', label: 'Symptom', kind: 'select', options: SYMPTOMS, required: true },
          { name: 'severity', label: 'Severity', kind: 'select', options: SEVERITIES, required: true },
          {
            name: 'batches',
            label: 'Affected batches (lots)',
            kind: 'text',
            required: true,
            description: 'Comma-separated lot numbers, e.g. LOT-2026-0042',
          },
          { name: 'lines', label: 'Packaging lines', kind: 'text', description: 'Comma-separated, e.g. L3' },
          { name: 'gtins', label: 'GTINs', kind: 'text', description: 'Comma-separated 14-digit GTINs (optional)' },
          { name: 'description', label: 'Description', kind: 'textarea', required: true },
        ]}
        submitLabel="Open the deviation"
        submit={(body) => api<{ id: string }>('/deviations', { method: 'POST', body, headers: { 'Idempotency-Key': key.current } })}
        onDone={(result) => {
          key.current = crypto.randomUUID();
          void queryClient.invalidateQueries({ queryKey: ['deviations'] });
          navigate(`/deviations/${(result as { id: string }).id}`);
        }}
      />
    </Stack>
  );
}
