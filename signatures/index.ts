/** The signature building blocks sign-off tasks use: hash the record, re-authenticate the signer, append, verify. */
export {
  canonicalRecordHash,
  appendSignature,
  verifyLedger,
  signaturesForDeviation,
  ledgerRowHash,
  SignatureConflictError,
} from './ledger';
export type { LedgerRow, LedgerVerification } from './ledger';
export { reauthenticate, signingLockPolicy, unlockSigning } from '../auth/reauth';
export type { ReauthResult, ReauthOptions } from '../auth/reauth';
export { SIGNATURE_MEANINGS } from '../domain/signatures';
export { GENESIS_HASH } from '../db/hash-chain';
export type { SignatureEntry, SignatureMeaning } from '../domain/signatures';
