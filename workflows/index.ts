// Entry point of the workflow bundle: everything exported here runs in the deterministic sandbox.
export { DeviationWorkflow } from './deviation';
export { ArchiveClosedDeviations } from './archive';
export { ChangeControlWorkflow } from './change-control';
