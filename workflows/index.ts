// Entry point of the workflow bundle: everything exported here runs in the deterministic sandbox.
export { DeviationWorkflow } from './deviation';
export { ChangeControlWorkflow } from './change-control';
export { ArchiveClosedDeviations } from './archive';
export { LineMonitorWorkflow } from './line-monitor';
