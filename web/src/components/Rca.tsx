import { Button, Group, NativeSelect, Paper, SegmentedControl, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { recordRootCauseAnalysisSchema } from '@domain/lifecycle';
import { FISHBONE_CATEGORIES, type RootCauseAnalysis } from '@domain/rca';
import { FaultTreeDiagram } from '../diagrams/FaultTreeDiagram';
import { FishboneDiagram } from '../diagrams/FishboneDiagram';
import { ApiError, fieldErrors } from '../lib/api';
import { toList } from './StepForm';
import { ProblemAlert } from './common';

/** A root-cause analysis as a person reads it: the 5-Why chain, the fishbone or the fault tree, drawn. */
export function RcaView({ analysis }: { analysis: RootCauseAnalysis }) {
  if (analysis.method === 'five_why') {
    return (
      <Stack gap="xs" data-rca="five_why">
        <Text size="sm">
          <strong>Problem:</strong> {analysis.problem}
        </Text>
        <ol className="why-chain" aria-label="5-Why chain">
          {analysis.whys.map((w, i) => (
            <li key={i}>
              <Text size="sm">
                <strong>Why {i + 1}?</strong> {w.question}
              </Text>
              <Text size="sm">→ {w.answer}</Text>
            </li>
          ))}
          <li className="root">
            <Text size="sm">
              <strong>Root cause:</strong> {analysis.rootCause}
            </Text>
          </li>
        </ol>
      </Stack>
    );
  }
  if (analysis.method === 'fishbone') {
    return (
      <div className="diagram-box" data-rca="fishbone">
        <FishboneDiagram analysis={analysis} />
        <Text size="sm" mt="xs">
          <strong>Root cause ({analysis.rootCause.category}):</strong> {analysis.rootCause.cause}
        </Text>
      </div>
    );
  }
  return (
    <div className="diagram-box" data-rca="fault_tree">
      <FaultTreeDiagram top={analysis.top} nodes={analysis.nodes} rootCauses={analysis.rootCauses} />
      <Text size="sm" mt="xs">
        <strong>Root causes:</strong> {analysis.rootCauses.join(', ')}
      </Text>
    </div>
  );
}

interface TreeRow {
  id: string;
  type: 'basic' | 'and' | 'or';
  label: string;
  children: string;
}

type Method = RootCauseAnalysis['method'];

/** Records a root-cause analysis: three builders, each validated by the API's schema, with the diagram drawn as it is typed. */
export function RcaForm({ submit, onDone }: { submit: (body: unknown) => Promise<unknown>; onDone: () => void }) {
  const [method, setMethod] = useState<Method>('five_why');
  const [problem, setProblem] = useState('');
  const [whys, setWhys] = useState([
    { question: '', answer: '' },
    { question: '', answer: '' },
    { question: '', answer: '' },
  ]);
  const [whyRoot, setWhyRoot] = useState('');
  const [effect, setEffect] = useState('');
  const [causes, setCauses] = useState<Record<string, string>>({});
  const [fbCategory, setFbCategory] = useState('');
  const [fbCause, setFbCause] = useState('');
  const [top, setTop] = useState('TOP');
  const [rows, setRows] = useState<TreeRow[]>([
    { id: 'TOP', type: 'or', label: '', children: '' },
    { id: 'B1', type: 'basic', label: '', children: '' },
  ]);
  const [rootCauses, setRootCauses] = useState('');
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});

  const analysis =
    method === 'five_why'
      ? { method, problem, whys, rootCause: whyRoot }
      : method === 'fishbone'
        ? {
            method,
            effect,
            causes: Object.fromEntries(FISHBONE_CATEGORIES.map((c) => [c, toList(causes[c] ?? '').filter(Boolean)])),
            rootCause: { category: fbCategory, cause: fbCause },
          }
        : {
            method,
            top,
            nodes: rows.map((r) =>
              r.type === 'basic'
                ? { id: r.id.trim(), type: r.type, label: r.label }
                : { id: r.id.trim(), type: r.type, label: r.label, children: toList(r.children) },
            ),
            rootCauses: toList(rootCauses),
          };
  const parsed = recordRootCauseAnalysisSchema.safeParse({ analysis });
  const errors = {
    ...(submitted && !parsed.success
      ? fieldErrors(parsed.error.issues.map((i) => ({ path: i.path.slice(1).map(String).join('.'), message: i.message })))
      : {}),
    ...serverErrors,
  };
  const mutation = useMutation({
    mutationFn: submit,
    onSuccess: () => {
      setSubmitted(false);
      onDone();
    },
    onError: (err) => {
      if (err instanceof ApiError)
        setServerErrors(fieldErrors(err.errors.map((e) => ({ path: e.path.replace(/^analysis\./, ''), message: e.message }))));
    },
  });
  const setRow = (i: number, patch: Partial<TreeRow>) => setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const fishboneList = fbCategory ? toList(causes[fbCategory] ?? '') : [];
  const nodesError = errors.nodes;

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="rca-title">
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setSubmitted(true);
          setServerErrors({});
          if (parsed.success && !mutation.isPending) mutation.mutate(parsed.data);
        }}
      >
        <Stack gap="sm">
          <Title order={3} size="h4" id="rca-title">
            Record a root-cause analysis
          </Title>
          <SegmentedControl
            aria-label="Method"
            value={method}
            onChange={(v) => setMethod(v as Method)}
            data={[
              { value: 'five_why', label: '5-Why' },
              { value: 'fishbone', label: 'Fishbone' },
              { value: 'fault_tree', label: 'Fault tree' },
            ]}
          />
          {method === 'five_why' ? (
            <>
              <Textarea
                label="Problem"
                required
                value={problem}
                onChange={(e) => setProblem(e.currentTarget.value)}
                error={errors.problem}
                autosize
                minRows={1}
              />
              {whys.map((w, i) => (
                <SimpleGrid key={i} cols={{ base: 1, sm: 2 }} spacing="xs">
                  <TextInput
                    label={`Why ${i + 1}: question`}
                    value={w.question}
                    onChange={(e) => {
                      const question = e.currentTarget.value;
                      setWhys((ws) => ws.map((x, j) => (j === i ? { ...x, question } : x)));
                    }}
                    error={errors[`whys.${i}.question`]}
                  />
                  <TextInput
                    label={`Why ${i + 1}: answer`}
                    value={w.answer}
                    onChange={(e) => {
                      const answer = e.currentTarget.value;
                      setWhys((ws) => ws.map((x, j) => (j === i ? { ...x, answer } : x)));
                    }}
                    error={errors[`whys.${i}.answer`]}
                  />
                </SimpleGrid>
              ))}
              <Group>
                <Button
                  variant="outline"
                  size="xs"
                  onClick={() => setWhys((ws) => [...ws, { question: '', answer: '' }])}
                  disabled={whys.length >= 10}
                >
                  Add a why
                </Button>
                <Button variant="subtle" size="xs" onClick={() => setWhys((ws) => ws.slice(0, -1))} disabled={whys.length <= 3}>
                  Remove the last why
                </Button>
              </Group>
              <Textarea
                label="Root cause"
                required
                value={whyRoot}
                onChange={(e) => setWhyRoot(e.currentTarget.value)}
                error={errors.rootCause}
                autosize
                minRows={1}
              />
            </>
          ) : null}
          {method === 'fishbone' ? (
            <>
              <Textarea
                label="Effect (the problem at the head)"
                required
                value={effect}
                onChange={(e) => setEffect(e.currentTarget.value)}
                error={errors.effect}
                autosize
                minRows={1}
              />
              <SimpleGrid cols={{ base: 1, sm: 3 }} spacing="xs">
                {FISHBONE_CATEGORIES.map((c) => (
                  <Textarea
                    key={c}
                    label={`Causes: ${c}`}
                    description="one per line"
                    value={causes[c] ?? ''}
                    onChange={(e) => {
                      const text = e.currentTarget.value;
                      setCauses((cs) => ({ ...cs, [c]: text }));
                    }}
                    autosize
                    minRows={2}
                  />
                ))}
              </SimpleGrid>
              {errors.causes ? (
                <Text c="red.9" size="sm" role="alert">
                  {errors.causes}
                </Text>
              ) : null}
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs">
                <NativeSelect
                  label="Root cause category"
                  data={[{ value: '', label: 'Choose…' }, ...FISHBONE_CATEGORIES.map((c) => ({ value: c, label: c }))]}
                  value={fbCategory}
                  onChange={(e) => setFbCategory(e.currentTarget.value)}
                  error={errors['rootCause.category']}
                />
                <NativeSelect
                  label="Root cause"
                  data={[{ value: '', label: 'Choose…' }, ...fishboneList.map((c) => ({ value: c, label: c }))]}
                  value={fbCause}
                  onChange={(e) => setFbCause(e.currentTarget.value)}
                  error={errors['rootCause.cause'] ?? errors.rootCause}
                />
              </SimpleGrid>
            </>
          ) : null}
          {method === 'fault_tree' ? (
            <>
              <Text size="sm">Each node: an ID, a type (a basic event, or an AND / OR gate over the IDs of its children) and a label.</Text>
              {rows.map((r, i) => (
                <SimpleGrid key={i} cols={{ base: 2, sm: 4 }} spacing="xs" data-node-row={i + 1}>
                  <TextInput label={`Node ${i + 1} ID`} value={r.id} onChange={(e) => setRow(i, { id: e.currentTarget.value })} />
                  <NativeSelect
                    label={`Node ${i + 1} type`}
                    data={[
                      { value: 'basic', label: 'basic event' },
                      { value: 'and', label: 'AND gate' },
                      { value: 'or', label: 'OR gate' },
                    ]}
                    value={r.type}
                    onChange={(e) => setRow(i, { type: e.currentTarget.value as TreeRow['type'] })}
                  />
                  <TextInput
                    label={`Node ${i + 1} label`}
                    value={r.label}
                    onChange={(e) => setRow(i, { label: e.currentTarget.value })}
                    error={errors[`nodes.${i}.label`]}
                  />
                  <TextInput
                    label={`Node ${i + 1} children`}
                    description={r.type === 'basic' ? 'none for a basic event' : 'IDs, comma-separated'}
                    disabled={r.type === 'basic'}
                    value={r.type === 'basic' ? '' : r.children}
                    onChange={(e) => setRow(i, { children: e.currentTarget.value })}
                    error={errors[`nodes.${i}.children`]}
                  />
                </SimpleGrid>
              ))}
              <Group>
                <Button
                  variant="outline"
                  size="xs"
                  onClick={() => setRows((rs) => [...rs, { id: `N${rs.length + 1}`, type: 'basic', label: '', children: '' }])}
                >
                  Add a node
                </Button>
                <Button variant="subtle" size="xs" onClick={() => setRows((rs) => rs.slice(0, -1))} disabled={rows.length <= 2}>
                  Remove the last node
                </Button>
              </Group>
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs">
                <TextInput label="Top event (ID)" value={top} onChange={(e) => setTop(e.currentTarget.value)} error={errors.top} />
                <TextInput
                  label="Root causes (IDs of basic events)"
                  value={rootCauses}
                  onChange={(e) => setRootCauses(e.currentTarget.value)}
                  error={errors.rootCauses}
                />
              </SimpleGrid>
              {nodesError ? (
                <Text c="red.9" size="sm" role="alert">
                  {nodesError}
                </Text>
              ) : null}
            </>
          ) : null}
          {parsed.success && method !== 'five_why' ? (
            <Stack gap={4}>
              <Text size="sm" fw={700}>
                Preview
              </Text>
              <RcaView analysis={parsed.data.analysis} />
            </Stack>
          ) : null}
          <ProblemAlert error={mutation.error} />
          <Group>
            <Button type="submit" loading={mutation.isPending}>
              Record the analysis
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
