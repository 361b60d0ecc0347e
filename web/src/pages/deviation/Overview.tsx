import { Anchor, Stack, Text } from '@mantine/core';
import { Link } from 'react-router';
import { Time } from '../../components/common';
import type { SignRequest } from '../../components/SignDialog';
import { usePermissions } from '../../permissions';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';
import { CancelForm } from './CancelForm';
import { Deadlines, ExtensionRequest } from './Deadlines';
import { OpenSignoffs } from './OpenSignoffs';
import { Regulatory } from './Regulatory';

/** What needs doing now and by when: open sign-offs, deadlines, recurrences, regulatory clocks, cancellation. */
export function Overview({ d, onSign }: { d: DeviationState; onSign: (r: SignRequest) => void }) {
  const { can } = usePermissions();
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  return (
    <Stack>
      <OpenSignoffs d={d} onSign={onSign} />
      <Deadlines d={d} />
      <ExtensionRequest d={d} />
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
      <Regulatory d={d} />
      {!terminal && can('post', '/deviations/{id}/cancel') ? <CancelForm d={d} onSign={onSign} /> : null}
      {d.cancellation ? (
        <Section title="Cancelled">
          <Text size="sm">{d.cancellation.justification}</Text>
          <Attributed a={d.cancellation} />
        </Section>
      ) : null}
    </Stack>
  );
}
