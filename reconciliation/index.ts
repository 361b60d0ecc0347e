export { AmbiguousBatchError, reconcileBatch, type ReconcileInput } from './reconcile';
export { findShipments, listBatchesOnLine, type BatchOnLine, type Shipment } from './shipments';
export { findBatch } from './batches';
