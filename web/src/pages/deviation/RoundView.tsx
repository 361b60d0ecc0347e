import { Stack, Text } from '@mantine/core';
import type { InvestigationRound } from '@workflows/types';
import { Time } from '../../components/common';
import type { SignRequest } from '../../components/SignDialog';
import type { DeviationState } from '../../types';
import { Capa } from './Capa';
import { ChangeControlView } from './ChangeControlView';
import { Effectiveness } from './Effectiveness';
import { Investigation } from './Investigation';
import { useDeviationSteps } from './steps';

/**
 * One investigation round, from its analyses to its effectiveness check. Only the current round
 * takes steps; an earlier one is shown as it was recorded.
 */
export function RoundView({
  d,
  r,
  current,
  onSign,
}: {
  d: DeviationState;
  r: InvestigationRound;
  current: boolean;
  onSign: (r: SignRequest) => void;
}) {
  const { refresh } = useDeviationSteps(d.id);
  return (
    <Stack>
      <Text size="sm">
        Round {r.number}, started <Time value={r.startedAt} /> — {r.reason}
      </Text>
      <Investigation d={d} r={r} current={current} />
      <Capa d={d} r={r} current={current} />
      {r.changeControls.map((cc) => (
        <ChangeControlView key={cc.id} d={d} cc={cc} refresh={refresh} onSign={onSign} />
      ))}
      <Effectiveness d={d} r={r} current={current} />
    </Stack>
  );
}
