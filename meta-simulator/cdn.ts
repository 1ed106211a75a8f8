import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { newAssetId } from './ids';
import type { SimClock } from './state';

/**
 * Stand-in for lookaside.fbsbx.com: attachment URLs are signed and expire, like Meta's. A fresh
 * URL for the same asset is minted whenever the message is read again through the Graph API,
 * which is how igdm is expected to recover an expired link.
 */

export type CdnStyle = 'local' | 'lookaside';

export interface Asset {
  id: string;
  type: string;
  mimeType: string;
  createdAt: number;
}

const MIME: Record<string, string> = {
  image: 'image/png',
  video: 'video/mp4',
  audio: 'audio/mp4',
  file: 'application/pdf',
  ig_reel: 'video/mp4',
};

// 1x1 PNG; the asset id is appended after IEND so every asset has distinct bytes.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

function assetBytes(asset: Asset): Buffer {
  const tail = Buffer.from(`\n${asset.id}\n`);
  switch (asset.mimeType) {
    case 'video/mp4':
      return Buffer.concat([Buffer.from('000000186674797069736f6d0000020069736f6d', 'hex'), tail]);
    case 'audio/mp4':
      return Buffer.concat([Buffer.from('00000018667479704d344120000000004d344120', 'hex'), tail]);
    case 'application/pdf':
      return Buffer.from(`%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%${asset.id}\n%%EOF\n`);
    default:
      return Buffer.concat([PNG, tail]);
  }
}

export interface CdnResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export class Cdn {
  readonly assets = new Map<string, Asset>();
  private readonly key = randomBytes(32);

  constructor(
    private readonly clock: SimClock,
    private readonly opts: { baseUrl: () => string; ttlMs: number; style: CdnStyle },
  ) {}

  createAsset(type: string): Asset {
    const asset: Asset = {
      id: newAssetId(),
      type,
      mimeType: MIME[type] ?? 'image/png',
      createdAt: this.clock.now(),
    };
    this.assets.set(asset.id, asset);
    return asset;
  }

  /** Mints a new signed URL valid for ttlMs from now (simulated clock). */
  url(assetId: string): string {
    const exp = this.clock.now() + this.opts.ttlMs;
    const signature = `${exp.toString(36)}.${this.sign(assetId, exp)}`;
    const query = `?asset_id=${assetId}&signature=${signature}`;
    return this.opts.style === 'lookaside'
      ? `https://lookaside.fbsbx.com/ig_messaging_cdn/${query}`
      : `${this.opts.baseUrl()}/cdn/ig_messaging_cdn/${query}`;
  }

  handle(query: Record<string, string>): CdnResponse {
    const text = { 'content-type': 'text/plain' };
    const asset = this.assets.get(query.asset_id ?? '');
    const [expRaw, sig] = (query.signature ?? '').split('.');
    const exp = parseInt(expRaw ?? '', 36);
    if (!asset || !sig || !Number.isFinite(exp)) {
      return { status: 404, headers: text, body: 'Not Found' };
    }
    const expected = Buffer.from(this.sign(asset.id, exp));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { status: 403, headers: text, body: 'Bad signature' };
    }
    if (this.clock.now() >= exp)
      return { status: 403, headers: text, body: 'URL signature expired' };
    const body = assetBytes(asset);
    return {
      status: 200,
      headers: { 'content-type': asset.mimeType, 'content-length': String(body.length) },
      body,
    };
  }

  private sign(assetId: string, exp: number): string {
    return createHmac('sha256', this.key)
      .update(`${assetId}:${exp}`)
      .digest('base64url')
      .slice(0, 27);
  }
}
