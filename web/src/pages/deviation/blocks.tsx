import { Button, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import type { Signature } from '@workflows/types';
import { SignatureLine, Time } from '../../components/common';

/** A titled part of the page, a region named by its title. */
export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
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

/** A form that is not the next step for most people: behind a button until asked for. */
export function Reveal({ label: text, children }: { label: string; children: ReactNode }) {
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

/** Who took a step and when: the signature's manifestation when it was signed. */
export function Attributed({ a }: { a?: { by: string; at: string; signature?: Signature; comment?: string } }) {
  if (!a) return null;
  if (a.signature) return <SignatureLine signature={a.signature} />;
  return (
    <Text size="sm">
      by {a.by}, <Time value={a.at} />
      {a.comment ? ` — “${a.comment}”` : ''}
    </Text>
  );
}
