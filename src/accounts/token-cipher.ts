import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** A stored token that does not decrypt with the configured ENCRYPTION_KEY. */
export class TokenDecryptionError extends Error {
  constructor(reason: string) {
    super(`Access token does not decrypt: ENCRYPTION_KEY does not match (${reason})`);
    this.name = 'TokenDecryptionError';
  }
}

const V1_PREFIX = 'v1:';
const V2_PREFIX = 'v2:';
const HKDF_INFO = 'igdm access-token encryption v1';
const FERNET_VERSION = 0x80;

/**
 * Access tokens at rest. New tokens: `v2:` + base64url(iv ‖ AES-256-GCM ciphertext ‖ tag), the key
 * derived from ENCRYPTION_KEY with HKDF-SHA256, the owning account's id as associated data: a
 * ciphertext copied into another account's document does not decrypt there. `v1:` (the same
 * without associated data, still written for values that belong to no account, e.g. an OAuth
 * code in flight) and the Python service's Fernet tokens still decrypt, and `needsReencryption`
 * tells the caller to store an account's token as `v2:`.
 * Tokens the Python service wrote are Fernet tokens whose key is ENCRYPTION_KEY's UTF-8 bytes
 * cut or right-padded with "0" to 32 bytes (its `Encryptor._get_key`); they still decrypt, and
 * `needsReencryption` tells the caller to store them in the new format next time.
 * Unlike the Python service, a token that does not decrypt is an error, never used as is.
 */
export class TokenCipher {
  private readonly gcmKey: Buffer;
  private readonly fernetSigningKey: Buffer;
  private readonly fernetEncryptionKey: Buffer;

  /** Tries the key before a rotation when the current one fails (ENCRYPTION_KEY_PREVIOUS). */
  private readonly previous?: TokenCipher;

  constructor(encryptionKey: string, previousKey?: string) {
    if (previousKey) this.previous = new TokenCipher(previousKey);
    if (!encryptionKey) throw new Error('ENCRYPTION_KEY is missing');
    this.gcmKey = Buffer.from(hkdfSync('sha256', encryptionKey, 'igdm', HKDF_INFO, 32));
    const legacy = Buffer.alloc(32, '0');
    Buffer.from(encryptionKey, 'utf8').subarray(0, 32).copy(legacy);
    // Fernet's key is base64(legacy); its halves are the signing and encryption keys.
    this.fernetSigningKey = legacy.subarray(0, 16);
    this.fernetEncryptionKey = legacy.subarray(16, 32);
  }

  /** `boundTo` (an account id) makes a `v2:` value that decrypts only for that account. */
  encrypt(plaintext: string, boundTo?: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.gcmKey, iv);
    if (boundTo !== undefined) cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const prefix = boundTo !== undefined ? V2_PREFIX : V1_PREFIX;
    return prefix + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  decrypt(stored: string, boundTo?: string): string {
    try {
      return this.decryptWithThisKey(stored, boundTo);
    } catch (error) {
      if (!this.previous || !(error instanceof TokenDecryptionError)) throw error;
      return this.previous.decrypt(stored, boundTo);
    }
  }

  /**
   * Whether `stored` is to be written again: not bound to its account (v1, Fernet), or only the
   * key before a rotation decrypts it.
   */
  needsReencryption(stored: string, boundTo?: string): boolean {
    if (!stored.startsWith(V2_PREFIX)) return true;
    if (!this.previous) return false;
    try {
      this.decryptWithThisKey(stored, boundTo);
      return false;
    } catch {
      return true;
    }
  }

  private decryptWithThisKey(stored: string, boundTo?: string): string {
    if (!stored) throw new TokenDecryptionError('empty value');
    if (stored.startsWith(V2_PREFIX)) {
      if (boundTo === undefined) throw new TokenDecryptionError('bound to an account');
      return this.decryptGcm(stored.slice(V2_PREFIX.length), boundTo);
    }
    if (stored.startsWith(V1_PREFIX)) return this.decryptGcm(stored.slice(V1_PREFIX.length));
    if (stored.startsWith('gAAAAA')) return this.decryptFernet(stored);
    throw new TokenDecryptionError('unknown format');
  }

  private decryptGcm(encoded: string, boundTo?: string): string {
    const data = Buffer.from(encoded, 'base64url');
    if (data.length < 12 + 16) throw new TokenDecryptionError('truncated');
    const decipher = createDecipheriv('aes-256-gcm', this.gcmKey, data.subarray(0, 12));
    if (boundTo !== undefined) decipher.setAAD(Buffer.from(boundTo, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - 16));
    try {
      return Buffer.concat([
        decipher.update(data.subarray(12, data.length - 16)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new TokenDecryptionError(
        boundTo === undefined ? 'authentication failed' : 'authentication failed for this account',
      );
    }
  }

  private decryptFernet(token: string): string {
    const data = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    // version(1) ‖ timestamp(8) ‖ iv(16) ‖ ciphertext(16·n) ‖ hmac(32)
    if (data.length < 1 + 8 + 16 + 16 + 32 || data[0] !== FERNET_VERSION) {
      throw new TokenDecryptionError('not a Fernet token');
    }
    const signed = data.subarray(0, data.length - 32);
    const expected = createHmac('sha256', this.fernetSigningKey).update(signed).digest();
    if (!timingSafeEqual(expected, data.subarray(data.length - 32))) {
      throw new TokenDecryptionError('Fernet signature mismatch');
    }
    const decipher = createDecipheriv(
      'aes-128-cbc',
      this.fernetEncryptionKey,
      data.subarray(9, 25),
    );
    try {
      return Buffer.concat([
        decipher.update(data.subarray(25, data.length - 32)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new TokenDecryptionError('Fernet padding invalid');
    }
  }
}
