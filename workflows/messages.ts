import { defineQuery } from '@temporalio/workflow';
import type { DeviationState } from './types';

/** Shared by the workflow and the API: names and payload types of every message. */
export const getStateQuery = defineQuery<DeviationState>('getState');
