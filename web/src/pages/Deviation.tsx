import { Alert, Anchor, Badge, Button, Grid, Group, Paper, SimpleGrid, Stack, Table, Tabs, Text, Textarea, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import * as steps from '@domain/lifecycle';
import { signerDutyProblem, signedRecord } from '@workflows/deviation/gates';
import { cancellationRecord } from '@workflows/deviation/state';
import type { ChangeControlRef, InvestigationRound, SignoffTask, Signature } from '@workflows/types';
import {
  Countdown,
  EmptyState,
  ErrorState,
  LoadingState,
  SeverityBadge,
  SignatureLine,
  StageBadge,
  Time,
  ScrollBox,
} from '../components/common';
import { RcaForm, RcaView } from '../components/Rca';
import { SignDialog, type SignRequest } from '../components/SignDialog';
import { StepForm, toIso, toList } from '../components/StepForm';
import { api } from '../lib/api';
import { label, utc } from '../lib/time';
import { usePermissions } from '../permissions';
import { useSession } from '../session';
import type { ChangeControlRecord, DeviationAnswer, DeviationState } from '../types';

const RAIL = ['detection', 'containment', 'investigation', 'capa', 'change_control', 'effectiveness_check', 'closure', 'closed'] as const;

function StageRail({ d }: { d: DeviationState }) {
  const reached = new Map<string, number>();
  d.transitions.forEach((t) => reached.set(t.to, (reached.get(t.to) ?? 0) + 1));
  const current = d.stage === 'cancelled' ? (d.cancellation?.fromStage ?? 'detection') : d.stage;
  const currentIndex = RAIL.indexOf(current as (typeof RAIL)[number]);
  return (
    <nav aria-label="Lifecycle stages">
      <ol className="rail">
        {RAIL.map((s, i) => {
          const state =
            d.stage === 'cancelled' && s === current
              ? 'cancelled'
              : i < currentIndex || d.stage === 'closed'
                ? 'done'
                : i === currentIndex
                  ? 'current'
                  : 'todo';
          const times = reached.get(s) ?? 0;
          return (
            <li key={s} data-state={state} aria-current={state === 'current' ? 'step' : undefined}>
              {label(s)}
              {times > 1 ? ` · ${times} rounds` : ''}
              {state === 'done' ? ' ✓' : ''}
              {state === 'cancelled' ? ' — cancelled' : ''}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

/** A form that is not the next step for most people: behind a button until asked for. */
function Reveal({ label: text, children }: { label: string; children: ReactNode }) {
  const [open, setOpen] = useState(false);
  if (!open) {
    return (
      <Group>
        <Button variant="outline" onClick={() => setOpen(true)}>
          {text}
        </Button>
      </Group>
    );
  }
  return <>{children}</>;
}

/** The tab a person most likely wants: the current round once the investigation started, else the overview. */
function defaultTab(d: DeviationState): string {
  const round = d.rounds[d.rounds.length - 1];
  if (
    round &&
    ['investigation', 'capa', 'change_control', 'effectiveness_check'].includes(d.stage) &&
    !d.tasks.some((t) => t.status === 'open')
  )
    return `round-${round.number}`;
  return 'overview';
}

function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-label={title} id={id}>
      <Stack gap="sm">
        <Title order={3} size="h4">
          {title}
        </Title>
        {children}
      </Stack>
    </Paper>
  );
}

function Attributed({ a }: { a?: { by: string; at: string; signature?: Signature; comment?: string } }) {
  if (!a) return null;
  if (a.signature) return <SignatureLine signature={a.signature} />;
  return (
    <Text size="sm">
      by {a.by}, <Time value={a.at} />
      {a.comment ? ` — “${a.comment}”` : ''}
    </Text>
  );
}

export function DeviationPage() {
  const { id = '' } = useParams();
  const queryClient = useQueryClient();
  const { me } = useSession();
  const { can } = usePermissions();
  const [signing, setSigning] = useState<SignRequest | null>(null);
  const q = useQuery({ queryKey: ['deviation', id], queryFn: () => api<DeviationAnswer>(`/deviations/${id}`), refetchInterval: 3000 });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['deviation', id] });
    void queryClient.invalidateQueries({ queryKey: ['deviations'] });
    void queryClient.invalidateQueries({ queryKey: ['tasks'] });
  };
  if (q.isPending) return <LoadingState what={`deviation ${id}`} />;
  if (q.isError) return <ErrorState error={q.error} retry={() => void q.refetch()} />;
  const d = q.data.deviation;
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  const post = (path: string) => (body: unknown) => api(`/deviations/${id}/${path}`, { method: 'POST', body });
  const may = (path: string) => can('post', `/deviations/{id}/${path}`);
  const openTasks = d.tasks.filter((t) => t.status === 'open');
  const round = d.rounds[d.rounds.length - 1];

  const signTask = (task: SignoffTask) =>
    setSigning({
      title: task.title,
      meaning: task.meaning,
      record: signedRecord(d, task),
      sign: (c, comment) =>
        api(`/tasks/${id}.${task.id}/sign`, { method: 'POST', body: { meaning: task.meaning, ...c, ...(comment ? { comment } : {}) } }),
      reject: (c, reason) => api(`/tasks/${id}.${task.id}/reject`, { method: 'POST', body: { reason, ...c } }),
    });

  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Group gap="xs">
            <Title order={2}>{d.id}</Title>
            <SeverityBadge severity={d.severity} />
            <StageBadge stage={d.stage} />
            {d.slaBreaches.length ? (
              <Badge color="red" variant="outline">
                SLA breach
              </Badge>
            ) : null}
          </Group>
          <Text fw={700}>{d.title}</Text>
          <Text size="sm">
            {label(d.symptom)} · batches {d.batches.join(', ')} · lines {d.lines.join(', ') || '—'} · opened by {d.reportedBy},{' '}
            <Time value={d.detectedAt} /> · policy {d.policy.name} {d.policy.version}
          </Text>
        </Stack>
        <Group gap="xs">
          {can('get', '/deviations/{id}/history') ? (
            <Button component={Link} to={`/audit/${d.id}`} variant="outline" size="xs">
              Auditor's view
            </Button>
          ) : null}
        </Group>
      </Group>
      <StageRail d={d} />
      <Text size="sm">{d.description}</Text>

      <Tabs defaultValue={defaultTab(d)} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="overview">Overview</Tabs.Tab>
          <Tabs.Tab value="containment">Containment</Tabs.Tab>
          {d.rounds.map((r) => (
            <Tabs.Tab key={r.number} value={`round-${r.number}`}>
              Investigation &amp; CAPA{d.rounds.length > 1 ? ` · round ${r.number}` : ''}
            </Tabs.Tab>
          ))}
          <Tabs.Tab value="closure">Closure</Tabs.Tab>
          <Tabs.Tab value="signatures">Signatures</Tabs.Tab>
        </Tabs.List>

        <Tabs.Panel value="overview" pt="md">
          <Stack>
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
                            {t.id} · {t.meaning} by {t.roles.map(label).join(' or ')} · {t.signatures.length}/{t.signaturesRequired}{' '}
                            signature{t.signaturesRequired > 1 ? 's' : ''} · due <Time value={t.dueAt} />
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
            <Section title="Deadlines">
              {d.deadlines.length === 0 ? (
                <Text size="sm">No deadline yet.</Text>
              ) : (
                <ScrollBox minWidth={600} label="Deadlines (scrolls sideways)">
                  <Table aria-label="Deadlines">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Deadline</Table.Th>
                        <Table.Th>Due</Table.Th>
                        <Table.Th>Left</Table.Th>
                        <Table.Th>Reminders · escalation</Table.Th>
                        <Table.Th>Extensions</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {d.deadlines.map((dl) => (
                        <Table.Tr key={dl.key}>
                          <Table.Td>{dl.label}</Table.Td>
                          <Table.Td>
                            <Time value={dl.dueAt} />
                          </Table.Td>
                          <Table.Td>
                            {terminal && !dl.metAt ? '—' : <Countdown dueAt={dl.dueAt} metAt={dl.metAt} label={dl.label} />}
                          </Table.Td>
                          <Table.Td>
                            {dl.reminders} reminder{dl.reminders === 1 ? '' : 's'}
                            {dl.escalated ? ' · escalated' : ''}
                            {dl.overdue && !dl.metAt ? ' · overdue' : ''}
                          </Table.Td>
                          <Table.Td>
                            {(dl.extensions ?? []).map((e) => (
                              <Text key={e.taskId} size="xs">
                                to {utc(e.to)} — {e.status} ({e.justification})
                              </Text>
                            ))}
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </ScrollBox>
              )}
            </Section>
            {!terminal && may('extensions') && d.deadlines.some((x) => !x.metAt) ? (
              <Reveal label="Request a due-date extension…">
                <StepForm
                  title="Request a due-date extension"
                  intro="An extension moves the due date only once a QA approver signs it."
                  schema={steps.requestExtensionSchema}
                  fields={[
                    { name: 'deadline', label: 'Deadline', kind: 'select', options: d.deadlines.filter((x) => !x.metAt).map((x) => x.key) },
                    { name: 'newDueAt', label: 'New due date (your local time)', kind: 'datetime' },
                    { name: 'justification', label: 'Justification', kind: 'textarea' },
                  ]}
                  toBody={(v) => ({ deadline: v.deadline, newDueAt: toIso(String(v.newDueAt)), justification: v.justification })}
                  submit={post('extensions')}
                  submitLabel="Request the extension"
                  onDone={refresh}
                />
              </Reveal>
            ) : null}
            {d.recurrences.length ? (
              <Section title="Recurrences">
                {d.recurrences.map((r) => (
                  <Text key={r.id} size="sm">
                    <Anchor component={Link} to={`/deviations/${r.id}`}>
                      {r.id}
                    </Anchor>{' '}
                    {r.title} (matched on {r.matchedOn.join(', ')}), <Time value={r.detectedAt} />
                  </Text>
                ))}
              </Section>
            ) : null}
            {d.regulatory.map((r, i) => (
              <Section key={i} title={`Regulatory clock: ${r.framework === 'dscsa' ? 'DSCSA' : 'EU FMD'} (${label(r.finding)})`}>
                <Group>
                  {r.completedAt ? <Badge color="green">notified</Badge> : <Countdown dueAt={r.dueAt} label="regulatory notification" />}
                  <Text size="sm">required: {r.required.map(label).join(', ')}</Text>
                </Group>
                {r.notifications.map((n, j) => (
                  <Text key={j} size="sm">
                    {label(n.recipient)} — {n.reference}, <Time value={n.notifiedAt} /> by {n.recordedBy}
                  </Text>
                ))}
              </Section>
            ))}
            {!terminal && can('post', '/deviations/{id}/cancel') ? <CancelForm d={d} onSign={setSigning} /> : null}
            {d.cancellation ? (
              <Section title="Cancelled">
                <Text size="sm">{d.cancellation.justification}</Text>
                <Attributed a={d.cancellation} />
              </Section>
            ) : null}
          </Stack>
        </Tabs.Panel>

        <Tabs.Panel value="containment" pt="md">
          <Stack>
            <Section title="Containment">
              <Group>
                <Text size="sm">
                  Window ends <Time value={d.containment.dueAt} />
                </Text>
                {d.containment.confirmation ? (
                  <Badge color={d.containment.confirmation.late ? 'orange' : 'green'}>
                    {d.containment.confirmation.late ? 'verified late' : 'verified'}
                  </Badge>
                ) : !terminal ? (
                  <Countdown dueAt={d.containment.dueAt} label="containment" />
                ) : null}
                {d.containment.slaBreachedAt ? <Badge color="red">SLA breached {utc(d.containment.slaBreachedAt)}</Badge> : null}
              </Group>
              <Text size="sm">
                Actions completed: {d.containment.actionsCompletedAt ? <Time value={d.containment.actionsCompletedAt} /> : 'running…'} ·
                reminders sent {d.containment.remindersSent}
                {d.containment.escalatedAt ? ` · escalated ${utc(d.containment.escalatedAt)}` : ''}
              </Text>
              {d.containment.confirmation ? <Attributed a={d.containment.confirmation} /> : null}
            </Section>
            <Section title="Holds">
              {d.containment.holds.length === 0 ? (
                <Text size="sm">No hold placed yet.</Text>
              ) : (
                <Table aria-label="Holds">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Lot</Table.Th>
                      <Table.Th>Hold</Table.Th>
                      <Table.Th>Placed</Table.Th>
                      <Table.Th>Disposition</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {d.containment.holds.map((h) => (
                      <Table.Tr key={h.holdId}>
                        <Table.Td>{h.lot}</Table.Td>
                        <Table.Td className="mono">{h.holdId}</Table.Td>
                        <Table.Td>
                          <Time value={h.placedAt} />
                        </Table.Td>
                        <Table.Td>
                          {h.disposition
                            ? `${h.disposition} by ${h.disposedBy ?? '?'} (${h.disposedAt ? utc(h.disposedAt) : ''})`
                            : 'on hold'}
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
            </Section>
            <Section title="Traced shipments">
              {d.containment.trace ? (
                <Text size="sm">
                  {d.containment.trace.shipments} shipment(s), {d.containment.trace.serials} serial(s), SSCCs:{' '}
                  {d.containment.trace.ssccs.join(', ') || 'none'}
                  {d.containment.trace.truncated ? ' (more in the database)' : ''}
                </Text>
              ) : (
                <Text size="sm">No trace yet.</Text>
              )}
            </Section>
            <Section title="Preliminary reconciliation">
              {d.containment.preliminaryReconciliation.length === 0 ? (
                <Text size="sm">Not run yet.</Text>
              ) : (
                d.containment.preliminaryReconciliation.map((r) => (
                  <Stack key={r.reportId} gap={4}>
                    <Text size="sm">
                      <Anchor component={Link} to={`/batches?lot=${encodeURIComponent(r.lot)}${r.gtin ? `&gtin=${r.gtin}` : ''}`}>
                        {r.lot}
                      </Anchor>{' '}
                      {r.unknownBatch ? '(unknown batch: no master data or events)' : ''} · report {r.reportId}
                    </Text>
                    <Text size="xs">
                      Balance:{' '}
                      {Object.entries(r.balance)
                        .map(([k, v]) => `${k} ${v}`)
                        .join(' · ')}
                    </Text>
                    <Text size="xs">
                      Discrepancies:{' '}
                      {Object.entries(r.discrepancies)
                        .map(([k, v]) => `${label(k)} ${v}`)
                        .join(' · ')}
                    </Text>
                  </Stack>
                ))
              )}
            </Section>
          </Stack>
        </Tabs.Panel>

        {d.rounds.map((r) => (
          <Tabs.Panel key={r.number} value={`round-${r.number}`} pt="md">
            <RoundView d={d} r={r} current={r === round} post={post} may={may} refresh={refresh} onSign={setSigning} />
          </Tabs.Panel>
        ))}

        <Tabs.Panel value="closure" pt="md">
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
        </Tabs.Panel>

        <Tabs.Panel value="signatures" pt="md">
          <AllSignatures d={d} />
        </Tabs.Panel>
      </Tabs>
      <SignDialog request={signing} opened={signing !== null} onClose={() => setSigning(null)} onSigned={refresh} />
    </Stack>
  );
}

function AllSignatures({ d }: { d: DeviationState }) {
  const rows: Array<{ what: string; s: Signature }> = [];
  for (const t of d.tasks) {
    for (const s of t.signatures) rows.push({ what: `${t.title} (${t.id})`, s });
    if (t.rejection) rows.push({ what: `Rejection of ${t.title}: ${t.rejection.reason}`, s: t.rejection.signature });
  }
  for (const r of d.rounds) {
    for (const cc of r.changeControls) {
      for (const a of cc.result?.approvals ?? []) if (a.signature) rows.push({ what: `${cc.id} approval`, s: a.signature });
      if (cc.result?.verification?.signature) rows.push({ what: `${cc.id} verification`, s: cc.result.verification.signature });
    }
  }
  if (d.cancellation?.signature) rows.push({ what: 'Cancellation', s: d.cancellation.signature });
  rows.sort((a, b) => a.s.signedAt.localeCompare(b.s.signedAt));
  if (rows.length === 0) return <EmptyState title="No signature yet" />;
  return (
    <ScrollBox minWidth={700} label="Signatures (scrolls sideways)">
      <Table aria-label="Signatures" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Signed (UTC)</Table.Th>
            <Table.Th>Printed name</Table.Th>
            <Table.Th>Meaning</Table.Th>
            <Table.Th>What</Table.Th>
            <Table.Th>Record SHA-256</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map(({ what, s }, i) => (
            <Table.Tr key={i} data-signature-row>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{utc(s.signedAt)}</Table.Td>
              <Table.Td>
                {s.printedName} ({s.login})
              </Table.Td>
              <Table.Td>{s.meaning}</Table.Td>
              <Table.Td>{what}</Table.Td>
              <Table.Td className="mono">{s.recordHash}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollBox>
  );
}

function CancelForm({ d, onSign }: { d: DeviationState; onSign: (r: SignRequest) => void }) {
  const [justification, setJustification] = useState('');
  const [open, setOpen] = useState(false);
  if (!open) {
    return (
      <Group>
        <Button variant="outline" color="red" onClick={() => setOpen(true)}>
          Cancel this deviation…
        </Button>
      </Group>
    );
  }
  return (
    <Section title="Cancel this deviation">
      <Textarea
        label="Justification"
        required
        value={justification}
        onChange={(e) => setJustification(e.currentTarget.value)}
        autosize
        minRows={2}
      />
      <Group>
        <Button
          color="red"
          disabled={!justification.trim()}
          onClick={() =>
            onSign({
              title: `Cancel ${d.id}`,
              meaning: 'approved',
              record: cancellationRecord(d, justification.trim()),
              sign: (c) => api(`/deviations/${d.id}/cancel`, { method: 'POST', body: { justification: justification.trim(), ...c } }),
            })
          }
        >
          Sign the cancellation…
        </Button>
        <Button variant="default" onClick={() => setOpen(false)}>
          Keep it open
        </Button>
      </Group>
    </Section>
  );
}

function RoundView(props: {
  d: DeviationState;
  r: InvestigationRound;
  current: boolean;
  post: (path: string) => (body: unknown) => Promise<unknown>;
  may: (path: string) => boolean;
  refresh: () => void;
  onSign: (r: SignRequest) => void;
}) {
  const { d, r, current, post, may, refresh } = props;
  const inv = r.investigation;
  const investigating = current && d.stage === 'investigation' && !inv.approval;
  const capaOpen = current && d.stage === 'capa';
  return (
    <Stack>
      <Text size="sm">
        Round {r.number}, started <Time value={r.startedAt} /> — {r.reason}
      </Text>
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

      <Section title="CAPA actions">
        {r.capa.actions.length === 0 ? <Text size="sm">No action yet.</Text> : null}
        {r.capa.actions.length ? (
          <ScrollBox minWidth={640} label="CAPA actions (scrolls sideways)">
            <Table aria-label="CAPA actions">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Owner</Table.Th>
                  <Table.Th>Due</Table.Th>
                  <Table.Th>Status</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {r.capa.actions.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>
                      <strong>{a.id}</strong> {a.description}
                      {a.changeControl ? (
                        <Text size="xs">
                          change control: {label(a.changeControl.kind)} — {a.changeControl.description}
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>{a.type}</Table.Td>
                    <Table.Td>{a.owner}</Table.Td>
                    <Table.Td>
                      {a.status === 'open' ? <Countdown dueAt={a.dueAt} label={`${a.id} due`} /> : <Time value={a.dueAt} />}
                    </Table.Td>
                    <Table.Td>
                      {a.status}
                      {a.completion ? <Text size="xs">{a.completion.evidence}</Text> : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollBox>
        ) : null}
        {r.capa.planApproval ? (
          <>
            <Text size="sm" fw={700}>
              Plan approved
            </Text>
            <Attributed a={r.capa.planApproval} />
          </>
        ) : null}
      </Section>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {capaOpen && !r.capa.planApproval && may('capa/actions') ? (
          <StepForm
            title="Add a CAPA action"
            schema={steps.addCapaActionSchema}
            fields={[
              { name: 'type', label: 'Type', kind: 'select', options: steps.CAPA_TYPES },
              { name: 'description', label: 'Description', kind: 'textarea' },
              { name: 'owner', label: 'Owner (login)', kind: 'text' },
              { name: 'dueDate', label: 'Due (your local time)', kind: 'datetime' },
              { name: 'ccKind', label: 'Opens a change control of kind', kind: 'select', options: steps.CHANGE_KINDS, placeholder: 'none' },
              { name: 'ccDescription', label: 'Change control description', kind: 'text' },
            ]}
            toBody={(v) => ({
              type: v.type || undefined,
              description: v.description,
              owner: v.owner,
              dueDate: toIso(String(v.dueDate)),
              ...(v.ccKind ? { changeControl: { kind: v.ccKind, description: v.ccDescription } } : {}),
            })}
            fieldOf={(p) =>
              p.startsWith('changeControl.kind') ? 'ccKind' : p.startsWith('changeControl') ? 'ccDescription' : (p.split('.')[0] ?? p)
            }
            submit={post('capa/actions')}
            submitLabel="Add the action"
            onDone={refresh}
          />
        ) : null}
        {capaOpen && r.capa.planApproval && r.capa.actions.some((a) => a.status === 'open') && may('capa/actions/{actionId}/complete') ? (
          <StepForm
            title="Complete a CAPA action"
            schema={steps.completeCapaActionSchema}
            fields={[
              {
                name: 'actionId',
                label: 'Action',
                kind: 'select',
                options: r.capa.actions.filter((a) => a.status === 'open').map((a) => a.id),
              },
              { name: 'evidence', label: 'Completion evidence', kind: 'textarea' },
              { name: 'evidenceRefs', label: 'Evidence references', kind: 'text', description: 'comma-separated (optional)' },
            ]}
            toBody={(v) => ({ actionId: v.actionId, evidence: v.evidence, evidenceRefs: toList(v.evidenceRefs) })}
            submit={(body) => {
              const { actionId, ...rest } = body as { actionId: string };
              return api(`/deviations/${d.id}/capa/actions/${actionId}/complete`, { method: 'POST', body: rest });
            }}
            submitLabel="Complete the action"
            onDone={refresh}
          />
        ) : null}
      </SimpleGrid>

      {r.changeControls.map((cc) => (
        <ChangeControlView key={cc.id} d={d} cc={cc} refresh={refresh} onSign={props.onSign} />
      ))}

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
    </Stack>
  );
}

function ChangeControlView({
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
