import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';

/** A policy duration, written as "60 minutes", "24 hours", "30 days" (the `ms` notation Temporal uses). */
export const durationSchema = z.string().refine((s) => {
  try {
    return msToNumber(s as never) > 0;
  } catch {
    return false;
  }
}, 'a positive duration such as "60 minutes" or "30 days"');

export const durationMs = (d: string): number => msToNumber(d as never);
