import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * A subscription's signatureToken, sealed for the database with AES-256-GCM. The HMAC of each
 * delivery needs the token itself, so it cannot be kept as a hash; sealed, a dump, a backup or a
 * read-only account of the database does not hand it out. The key comes from the configuration
 * (EPCIS_SUBSCRIPTION_KEY), never from the database. The subscription's ID is the associated data:
 * a sealed token copied onto another subscription's row does not open.
 *
 * Layout: version (1 byte) | IV (12) | tag (16) | ciphertext.
 */
const VERSION = 1;

/** The AES-256 key: the SHA-256 of the configured text (any 32+ characters). */
export function tokenKey(configured: string): Buffer {
  return createHash('sha256').update(configured, 'utf8').digest();
}

export function sealToken(key: Buffer, subscriptionId: string, token: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext]);
}

/** The token, or null when it does not open under this key (the key was changed, or the row tampered with). */
export function openToken(key: Buffer, subscriptionId: string, sealed: Buffer): string | null {
  if (sealed.length < 29 || sealed[0] !== VERSION) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
    decipher.setAAD(Buffer.from(subscriptionId, 'utf8'));
    decipher.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
