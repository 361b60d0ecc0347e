import { useQueryClient } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { usePermissions } from '../../permissions';

/**
 * What every step form of a deviation's page needs: where it posts, whether the signed-in person
 * may take it (the route's roles; the workflow still refuses a step out of stage), and what to
 * refresh after it — the deviation, the board and the inbox all show its effect.
 */
export function useDeviationSteps(id: string) {
  const queryClient = useQueryClient();
  const { can } = usePermissions();
  return {
    post: (path: string) => (body: unknown) => api(`/deviations/${id}/${path}`, { method: 'POST', body }),
    may: (path: string) => can('post', `/deviations/{id}/${path}`),
    refresh: () => {
      void queryClient.invalidateQueries({ queryKey: ['deviation', id] });
      void queryClient.invalidateQueries({ queryKey: ['deviations'] });
      void queryClient.invalidateQueries({ queryKey: ['tasks'] });
    },
  };
}
