import { Button, Group, Textarea } from '@mantine/core';
import { useState } from 'react';
import { cancellationRecord } from '@workflows/deviation/state';
import type { SignRequest } from '../../components/SignDialog';
import { api } from '../../lib/api';
import type { DeviationState } from '../../types';
import { Section } from './blocks';

/** Cancelling a deviation: a justification, then an electronic signature over the cancellation record. */
export function CancelForm({ d, onSign }: { d: DeviationState; onSign: (r: SignRequest) => void }) {
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
