import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { EmptyState, ErrorState, LoadingState } from './common';

/**
 * What a page shows for a query: loading, the error with a retry, "nothing here" (when `isEmpty`
 * says so), else `children` with the answer. An error wins over an earlier answer: a failed poll
 * is said, not hidden behind data that may be stale.
 */
export function QueryView<T>(props: {
  query: UseQueryResult<T>;
  /** Said while loading: "Loading {what}…". */
  what: string;
  isEmpty?: (data: T) => boolean;
  emptyTitle?: string;
  emptyHint?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  const { query } = props;
  if (query.isPending) return <LoadingState what={props.what} />;
  if (query.isError) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  if (props.isEmpty?.(query.data)) return <EmptyState title={props.emptyTitle ?? `No ${props.what}`}>{props.emptyHint}</EmptyState>;
  return <>{props.children(query.data)}</>;
}
