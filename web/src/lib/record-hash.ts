import canonicalize from 'canonicalize';

/**
 * The SHA-256 of a record's canonical JSON (RFC 8785), as the API computes it when a signature is
 * made (db/hash-chain.ts canonicalSha256), so the signer sees the hash their signature will bind.
 * Null where the browser offers no WebCrypto (a page not served over https or from localhost).
 */
export async function recordHash(record: unknown): Promise<string | null> {
  const text = canonicalize(record);
  if (text === undefined || !globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
