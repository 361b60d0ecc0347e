import { Badge, Button, Group, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import * as steps from '@domain/lifecycle';
import type { ChangeControlRef } from '@workflows/types';
import { Countdown, ErrorState, LoadingState } from '../../components/common';
import type { SignRequest } from '../../components/SignDialog';
import { StepForm, toList } from '../../components/StepForm';
import { api } from '../../lib/api';
import { label } from '../../lib/time';
import { usePermissions } from '../../permissions';
import type { ChangeControlRecord, DeviationState } from '../../types';
import { Attributed, Section } from './blocks';

/**
 * A change control a CAPA action opened, a workflow of its own: read live while it is open, from
 * the deviation's record once closed. Its steps: impact assessment, approval (signed),
 * implementation, verification (signed).
 */
export function ChangeControlView({
  d,
  cc,
  refresh,
  onSign,
}: {
  d: DeviationState;
  cc: ChangeControlRef;
  refresh: () => void;
  onSign: (r: SignRequest) => void;
}) {
  const { can } = usePermissions();
  const live = useQuery({
    queryKey: ['deviation', d.id, 'cc', cc.id],
    queryFn: () => api<ChangeControlRecord>(`/deviations/${d.id}/change-controls/${cc.id}`),
    enabled: cc.status === 'open',
    refetchInterval: 3000,
  });
  const rec = cc.result ?? live.data;
  const ccPath = (step: string) => `/deviations/{id}/change-controls/{cc}/${step}`;
  const post = (step: string) => (body: unknown) => api(`/deviations/${d.id}/change-controls/${cc.id}/${step}`, { method: 'POST', body });
  const done = () => {
    refresh();
    void live.refetch();
  };
  const signStep = (step: 'approve' | 'verify', record: ChangeControlRecord) =>
    onSign({
      title: `${step === 'approve' ? 'Approve' : 'Verify'} change control ${cc.id}`,
      meaning: step === 'approve' ? 'approved' : 'verified',
      record: record as unknown as Record<string, unknown>,
      sign: (c, comment) => post(step)({ ...c, ...(comment ? { comment } : {}) }),
    });
  return (
    <Section title={`Change control ${cc.id} (${label(cc.kind)}, for ${cc.actionId})`}>
      {!rec ? (
        live.isError ? (
          <ErrorState error={live.error} />
        ) : (
          <LoadingState what="the change control" />
        )
      ) : (
        <Stack gap="xs">
          <Group>
            <Badge>{label(rec.status)}</Badge>
            <Text size="sm">{rec.description}</Text>
            {rec.status !== 'closed' ? <Countdown dueAt={rec.dueAt} label={`${cc.id} due`} /> : null}
          </Group>
          {rec.impactAssessment ? (
            <Text size="sm">
              Impact: validation status {rec.impactAssessment.validationStatusAffected ? 'affected (dual approval)' : 'not affected'},
              requalification {rec.impactAssessment.requalificationRequired ? 'required' : 'not required'}, systems{' '}
              {rec.impactAssessment.systemsAffected.join(', ') || '—'} — {rec.impactAssessment.summary} ({rec.impactAssessment.by})
            </Text>
          ) : null}
          {rec.approvals.map((a, i) => (
            <Attributed key={i} a={a} />
          ))}
          {rec.implementation ? (
            <Text size="sm">
              Implemented: {rec.implementation.summary} ({rec.implementation.by})
            </Text>
          ) : null}
          {rec.verification ? <Attributed a={rec.verification} /> : null}
          {rec.status === 'impact_assessment' && can('post', ccPath('impact-assessment')) ? (
            <StepForm
              title="Impact assessment"
              schema={steps.impactAssessmentSchema}
              fields={[
                { name: 'validationStatusAffected', label: 'Validation status affected', kind: 'switch' },
                { name: 'requalificationRequired', label: 'Requalification required', kind: 'switch' },
                { name: 'systemsAffected', label: 'Systems affected', kind: 'text', description: 'comma-separated' },
                { name: 'summary', label: 'Summary', kind: 'textarea' },
              ]}
              toBody={(v) => ({
                validationStatusAffected: Boolean(v.validationStatusAffected),
                requalificationRequired: Boolean(v.requalificationRequired),
                systemsAffected: toList(v.systemsAffected),
                summary: v.summary,
              })}
              submit={post('impact-assessment')}
              submitLabel="Record the impact assessment"
              onDone={done}
            />
          ) : null}
          {rec.status === 'approval' && can('post', ccPath('approve')) ? (
            <Group>
              <Button onClick={() => signStep('approve', rec)}>Approve change control {cc.id}…</Button>
            </Group>
          ) : null}
          {rec.status === 'implementation' && can('post', ccPath('implementation')) ? (
            <StepForm
              title="Record the implementation"
              schema={steps.recordImplementationSchema}
              fields={[{ name: 'summary', label: 'What was implemented', kind: 'textarea' }]}
              toBody={(v) => v}
              submit={post('implementation')}
              submitLabel="Record the implementation"
              onDone={done}
            />
          ) : null}
          {rec.status === 'verification' && can('post', ccPath('verify')) ? (
            <Group>
              <Button onClick={() => signStep('verify', rec)}>Verify change control {cc.id}…</Button>
            </Group>
          ) : null}
        </Stack>
      )}
    </Section>
  );
}
