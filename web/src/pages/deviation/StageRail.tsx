import { label } from '../../lib/time';
import type { DeviationState } from '../../types';

const RAIL = ['detection', 'containment', 'investigation', 'capa', 'change_control', 'effectiveness_check', 'closure', 'closed'] as const;

/** The lifecycle as a row of stages: done, current, still to come; a stage entered again counts its rounds. */
export function StageRail({ d }: { d: DeviationState }) {
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
