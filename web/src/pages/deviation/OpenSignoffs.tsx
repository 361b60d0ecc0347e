import { Button, Group, Paper, Stack, Text } from '@mantine/core';
import { signerDutyProblem, signedRecord } from '@workflows/deviation/gates';
import type { SignoffTask } from '@workflows/types';
import { Countdown, SignatureLine, Time } from '../../components/common';
import type { SignRequest } from '../../components/SignDialog';
import { api } from '../../lib/api';
import { label } from '../../lib/time';
import { useSession } from '../../session';
import type { DeviationState } from '../../types';
import { Section } from './blocks';

/**
 * The sign-offs waiting on this deviation. The signing dialog is offered only to someone whose
 * duties allow it (the workflow's own rule); anyone else reads why not.
 */
export function OpenSignoffs({ d, onSign }: { d: DeviationState; onSign: (r: SignRequest) => void }) {
  const { me } = useSession();
  const openTasks = d.tasks.filter((t) => t.status === 'open');
  const signTask = (task: SignoffTask) =>
    onSign({
      title: task.title,
      meaning: task.meaning,
      record: signedRecord(d, task),
      sign: (c, comment) =>
        api(`/tasks/${d.id}.${task.id}/sign`, { method: 'POST', body: { meaning: task.meaning, ...c, ...(comment ? { comment } : {}) } }),
      reject: (c, reason) => api(`/tasks/${d.id}.${task.id}/reject`, { method: 'POST', body: { reason, ...c } }),
    });
  return (
    <Section title="Waiting for a signature">
      {openTasks.length === 0 ? (
        <Text size="sm">No sign-off is open.</Text>
      ) : (
        openTasks.map((t) => {
          const problem = signerDutyProblem(d, t, { login: me.login, roles: me.roles });
          return (
            <Paper key={t.id} withBorder p="sm" data-task={t.gate}>
              <Group justify="space-between">
                <Stack gap={2}>
                  <Text fw={700}>{t.title}</Text>
                  <Text size="sm">
                    {t.id} · {t.meaning} by {t.roles.map(label).join(' or ')} · {t.signatures.length}/{t.signaturesRequired} signature
                    {t.signaturesRequired > 1 ? 's' : ''} · due <Time value={t.dueAt} />
                  </Text>
                  {t.signatures.map((s, i) => (
                    <SignatureLine key={i} signature={s} />
                  ))}
                </Stack>
                <Group gap="xs">
                  <Countdown dueAt={t.dueAt} label={t.title} />
                  {problem === null ? (
                    <Button onClick={() => signTask(t)}>Sign…</Button>
                  ) : (
                    <Text size="xs" maw={260} data-cannot-sign>
                      You cannot sign this: {problem}.
                    </Text>
                  )}
                </Group>
              </Group>
            </Paper>
          );
        })
      )}
    </Section>
  );
}
