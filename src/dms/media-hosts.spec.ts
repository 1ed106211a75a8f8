import { DEFAULT_MEDIA_HOSTS, isAllowedMediaUrl, parseMediaHosts } from './media-hosts';

describe('MEDIA_HOSTS', () => {
  const meta = parseMediaHosts(DEFAULT_MEDIA_HOSTS)!;

  it("should allow Meta's media URLs over https", () => {
    for (const url of [
      'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=x',
      'https://scontent-iad3-1.cdninstagram.com/v/t51.2885-15/1.jpg?stp=dst',
      'https://scontent.xx.fbcdn.net/v/t1.15752-9/1.png?_nc_cat=1',
      'https://LOOKASIDE.instagram.com/seen?x=1',
      'https://www.instagram.com/reel/C0abc/',
      'https://lookaside.fbsbx.com./ig_messaging_cdn/?asset_id=1',
    ])
      expect([url, isAllowedMediaUrl(url, meta)]).toEqual([url, true]);
  });

  it('should refuse other schemes, hosts, ports, userinfo and private addresses', () => {
    for (const url of [
      'http://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1',
      'https://lookaside.fbsbx.com:8443/x',
      'https://fbcdn.net.attacker.example/x',
      'https://attacker.example/lookaside.fbsbx.com',
      'https://lookaside.fbsbx.com@169.254.169.254/latest/meta-data/',
      'https://user:pw@lookaside.fbsbx.com/x',
      'https://fbcdn.net/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://127.0.0.1:9000/cdn/x',
      'file:///etc/passwd',
      'not a url',
      '',
    ])
      expect([url, isAllowedMediaUrl(url, meta)]).toEqual([url, false]);
  });

  it('should take http only for an entry that says so, on its port', () => {
    const sim = parseMediaHosts('http://127.0.0.1:9000, lookaside.fbsbx.com')!;
    expect(isAllowedMediaUrl('http://127.0.0.1:9000/cdn/ig_messaging_cdn/?a=1', sim)).toBe(true);
    expect(isAllowedMediaUrl('https://127.0.0.1:9000/cdn/x', sim)).toBe(false);
    expect(isAllowedMediaUrl('http://127.0.0.1:9001/cdn/x', sim)).toBe(false);
    expect(isAllowedMediaUrl('http://127.0.0.1/cdn/x', sim)).toBe(false);
    expect(isAllowedMediaUrl('http://lookaside.fbsbx.com/x', sim)).toBe(false);
    expect(isAllowedMediaUrl('https://lookaside.fbsbx.com/x', sim)).toBe(true);
  });

  it('should refuse entries that would let any host in', () => {
    for (const raw of ['', ' , ', '*', '*.com', '*.0.0.1', 'ftp://x.example', 'x.example/p', 'a b'])
      expect([raw, parseMediaHosts(raw)]).toEqual([raw, undefined]);
    expect(parseMediaHosts('https://cdn.example.com:443')).toEqual([
      { protocol: 'https:', host: 'cdn.example.com', subdomains: false, port: '' },
    ]);
  });
});
