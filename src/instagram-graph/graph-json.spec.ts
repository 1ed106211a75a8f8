import { idString, parseGraphJson } from './graph-json';

describe('parseGraphJson', () => {
  it('should keep every digit of an id above 2^53', () => {
    const body = parseGraphJson(
      '{"access_token":"IGAA","user_id":17841400000000001,"permissions":["a"]}',
    );
    expect(body).toEqual({
      access_token: 'IGAA',
      user_id: '17841400000000001',
      permissions: ['a'],
    });
  });

  it('should keep ordinary numbers as numbers', () => {
    expect(parseGraphJson('{"expires_in":5183944,"ratio":0.5}')).toEqual({
      expires_in: 5183944,
      ratio: 0.5,
    });
  });

  it('should answer undefined for what is not JSON', () => {
    expect(parseGraphJson('<html>')).toBeUndefined();
    expect(parseGraphJson('')).toBeUndefined();
  });
});

describe('idString', () => {
  it('should turn safe numeric ids into strings and keep string ids', () => {
    expect(idString(1020)).toBe('1020');
    expect(idString('17841400000000001')).toBe('17841400000000001');
  });

  it('should reject what cannot be an id', () => {
    expect(idString(1.5)).toBeNull();
    expect(idString('')).toBeNull();
    expect(idString(undefined)).toBeNull();
  });
});
