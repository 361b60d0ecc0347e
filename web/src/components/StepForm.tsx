import { Button, Group, NativeSelect, NumberInput, Paper, Stack, Switch, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useId, useState, type ReactNode } from 'react';
import type { z } from 'zod';
import { ApiError, fieldErrors } from '../lib/api';
import { label as pretty } from '../lib/time';
import { ProblemAlert } from './common';

export interface FieldSpec {
  name: string;
  label: string;
  kind: 'text' | 'textarea' | 'select' | 'number' | 'switch' | 'datetime' | 'list';
  options?: readonly string[];
  /** How an option reads, when its code spaced out is not enough (an acronym, a proper name). */
  optionLabel?: (option: string) => string;
  description?: string;
  required?: boolean;
  defaultValue?: string | boolean;
  placeholder?: string;
}

export type FormValues = Record<string, string | boolean>;

/** Converts a datetime-local value (the viewer's zone) to an ISO instant in UTC. */
export const toIso = (v: string) => (v ? new Date(v).toISOString() : v);
/** A comma- or line-separated list. */
export const toList = (v: string | boolean | undefined) =>
  String(v ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : '');

/**
 * A lifecycle step's form. Validation is the API's own zod schema (imported from domain/), run on
 * every change; the server's refusals land at the fields they name; a 409 is explained above the
 * button. `toBody` turns the form's strings into the request body the schema checks.
 */
export function StepForm<S extends z.ZodType>(props: {
  title: string;
  intro?: ReactNode;
  fields: FieldSpec[];
  schema: S;
  toBody: (values: FormValues) => unknown;
  submit: (body: unknown) => Promise<unknown>;
  submitLabel: string;
  onDone?: (result: unknown) => void;
  /** Maps a path of the request body to the form field that shows it (default: the first segment). */
  fieldOf?: (path: string) => string;
  children?: ReactNode;
}) {
  const formId = useId();
  const initial: FormValues = Object.fromEntries(props.fields.map((f) => [f.name, f.defaultValue ?? (f.kind === 'switch' ? false : '')]));
  const [values, setValues] = useState<FormValues>(initial);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const mutation = useMutation({
    mutationFn: props.submit,
    onSuccess: (result) => {
      setValues(initial);
      setTouched({});
      setSubmitted(false);
      props.onDone?.(result);
    },
    onError: (err) => {
      if (err instanceof ApiError && err.errors.length) {
        const mapped: Record<string, string> = {};
        for (const [path, message] of Object.entries(fieldErrors(err.errors))) mapped[props.fieldOf?.(path) ?? path] ??= message;
        setServerErrors(mapped);
      }
    },
  });

  const parsed = props.schema.safeParse(props.toBody(values));
  const clientErrors: Record<string, string> = parsed.success
    ? {}
    : fieldErrors(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  const mappedClient: Record<string, string> = {};
  for (const [path, message] of Object.entries(clientErrors)) mappedClient[props.fieldOf?.(path) ?? path] ??= message;
  const errorOf = (name: string) => serverErrors[name] ?? (submitted || touched[name] ? mappedClient[name] : undefined);
  const unplaced = Object.entries(submitted ? mappedClient : {}).filter(
    ([k]) => !props.fields.some((f) => f.name === k) && !k.includes('.'),
  );

  const set = (name: string, v: string | boolean) => {
    setValues((old) => ({ ...old, [name]: v }));
    setServerErrors((old) => {
      const { [name]: _drop, ...rest } = old;
      return rest;
    });
  };
  const blur = (name: string) => setTouched((t) => ({ ...t, [name]: true }));

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby={`${formId}-title`}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setSubmitted(true);
          if (!parsed.success || mutation.isPending) return;
          mutation.mutate(parsed.data);
        }}
      >
        <Stack gap="sm">
          <Title order={3} size="h4" id={`${formId}-title`}>
            {props.title}
          </Title>
          {props.intro ? <Text size="sm">{props.intro}</Text> : null}
          {props.fields.map((f) => {
            const common = {
              label: f.label,
              description: f.description,
              required: f.required,
              error: errorOf(f.name),
              onBlur: () => blur(f.name),
              name: f.name,
            };
            switch (f.kind) {
              case 'textarea':
                return (
                  <Textarea
                    key={f.name}
                    {...common}
                    autosize
                    minRows={2}
                    value={str(values[f.name])}
                    onChange={(e) => set(f.name, e.currentTarget.value)}
                  />
                );
              case 'select':
                return (
                  <NativeSelect
                    key={f.name}
                    {...common}
                    data={[
                      { value: '', label: f.placeholder ?? 'Choose…' },
                      ...(f.options ?? []).map((o) => ({ value: o, label: f.optionLabel?.(o) ?? pretty(o) })),
                    ]}
                    value={str(values[f.name])}
                    onChange={(e) => set(f.name, e.currentTarget.value)}
                  />
                );
              case 'number':
                return <NumberInput key={f.name} {...common} value={str(values[f.name])} onChange={(v) => set(f.name, String(v))} />;
              case 'switch':
                return (
                  <Switch
                    key={f.name}
                    label={f.label}
                    description={f.description}
                    checked={Boolean(values[f.name])}
                    onChange={(e) => set(f.name, e.currentTarget.checked)}
                    error={errorOf(f.name)}
                    name={f.name}
                  />
                );
              case 'datetime':
                return (
                  <TextInput
                    key={f.name}
                    {...common}
                    type="datetime-local"
                    step={1}
                    value={str(values[f.name])}
                    onChange={(e) => set(f.name, e.currentTarget.value)}
                  />
                );
              default:
                return (
                  <TextInput
                    key={f.name}
                    {...common}
                    placeholder={f.placeholder}
                    value={str(values[f.name])}
                    onChange={(e) => set(f.name, e.currentTarget.value)}
                  />
                );
            }
          })}
          {props.children}
          {unplaced.map(([k, m]) => (
            <Text key={k} c="red.9" size="sm" role="alert">
              {k}: {m}
            </Text>
          ))}
          <ProblemAlert error={mutation.error} />
          <Group>
            <Button type="submit" loading={mutation.isPending}>
              {props.submitLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
