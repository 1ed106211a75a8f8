import { loadFernetVectors } from '../../test/support/reference-db';
import { TokenCipher, TokenDecryptionError } from './token-cipher';

const vectors = loadFernetVectors();

describe('TokenCipher', () => {
  it.each(vectors.cases.map((c) => [c.encryption_key, c]))(
    'should decrypt the Python service Fernet token made with key %j',
    (_key, vector) => {
      expect(new TokenCipher(vector.encryption_key).decrypt(vector.fernet_token)).toBe(
        vector.plaintext,
      );
    },
  );

  it('should fail loudly when the key does not match a Fernet token', () => {
    const [first] = vectors.cases;
    const cipher = new TokenCipher(`${first.encryption_key}-but-another-one`);
    expect(() => cipher.decrypt(first.fernet_token)).toThrow(TokenDecryptionError);
    expect(() => cipher.decrypt(first.fernet_token)).toThrow(/ENCRYPTION_KEY does not match/);
  });

  it('should fail loudly on the wrong_key vector, never returning the ciphertext as a token', () => {
    const wrong = vectors.wrong_key;
    expect(() => new TokenCipher(wrong.encryption_key).decrypt(wrong.fernet_token)).toThrow(
      TokenDecryptionError,
    );
  });

  it('should round-trip new tokens with authenticated encryption and a version prefix', () => {
    const cipher = new TokenCipher('an-encryption-key-of-some-length');
    const stored = cipher.encrypt('IGAA-token-éè-✓');
    expect(stored.startsWith('v1:')).toBe(true);
    expect(stored).not.toContain('IGAA');
    expect(cipher.decrypt(stored)).toBe('IGAA-token-éè-✓');
    expect(cipher.encrypt('same')).not.toBe(cipher.encrypt('same'));
  });

  it('should bind a v2 token to its account: it decrypts there and nowhere else', () => {
    const cipher = new TokenCipher('an-encryption-key-of-some-length');
    const accountA = '659200000000000000000a01';
    const stored = cipher.encrypt('IGAA-token-of-a', accountA);
    expect(stored.startsWith('v2:')).toBe(true);
    expect(cipher.decrypt(stored, accountA)).toBe('IGAA-token-of-a');
    expect(() => cipher.decrypt(stored, '659200000000000000000b01')).toThrow(TokenDecryptionError);
    expect(() => cipher.decrypt(stored)).toThrow(TokenDecryptionError);
    expect(cipher.needsReencryption(stored)).toBe(false);
    expect(cipher.needsReencryption(cipher.encrypt('IGAA-unbound'))).toBe(true);
  });

  it('should decrypt tokens of the key before a rotation and say they are to be re-encrypted', () => {
    const account = '659200000000000000000a01';
    const old = new TokenCipher('the-key-before-the-rotation-0000');
    const rotating = new TokenCipher(
      'the-new-key-after-the-rotation-00',
      'the-key-before-the-rotation-0000',
    );
    const underOld = old.encrypt('IGAA-token', account);
    expect(rotating.decrypt(underOld, account)).toBe('IGAA-token');
    expect(rotating.needsReencryption(underOld, account)).toBe(true);
    const underNew = rotating.encrypt('IGAA-token', account);
    expect(rotating.needsReencryption(underNew, account)).toBe(false);
    expect(() => old.decrypt(underNew, account)).toThrow(TokenDecryptionError);
    expect(() =>
      new TokenCipher('the-new-key-after-the-rotation-00').decrypt(underOld, account),
    ).toThrow(TokenDecryptionError);
  });

  it('should reject a tampered or foreign-key v1 token instead of returning ciphertext', () => {
    const stored = new TokenCipher('key-number-one-0000000000000000').encrypt('secret-token');
    const tampered = stored.slice(0, -2) + (stored.endsWith('A') ? 'BB' : 'AA');
    expect(() => new TokenCipher('key-number-one-0000000000000000').decrypt(tampered)).toThrow(
      TokenDecryptionError,
    );
    expect(() => new TokenCipher('key-number-two-0000000000000000').decrypt(stored)).toThrow(
      TokenDecryptionError,
    );
  });

  it('should ask for re-encryption of legacy tokens only', () => {
    const cipher = new TokenCipher('k'.repeat(32));
    expect(cipher.needsReencryption(vectors.cases[0].fernet_token)).toBe(true);
    expect(cipher.needsReencryption(cipher.encrypt('x'))).toBe(true); // v1: not bound
    expect(cipher.needsReencryption(cipher.encrypt('x', 'an-account'), 'an-account')).toBe(false);
  });

  it('should refuse a plaintext token stored by mistake', () => {
    expect(() => new TokenCipher('k'.repeat(32)).decrypt('IGAA_plaintext_token')).toThrow(
      /unknown format/,
    );
  });
});
