import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { HydratedDocument, Schema as MongooseSchema } from 'mongoose';

export type DeliveryStatus = 'pending' | 'processed' | 'failed' | 'ignored';

/**
 * One document per webhook delivery Meta made, written before the 200 goes out: whatever was
 * acknowledged is on disk, and the worker processes it after the ack.
 *
 * Two collections hold them, by stage: `webhook_pending` the work still to do (written by the
 * ack, small: only the backlog), `webhook_deliveries` the history (processed, ignored, failed;
 * kept for the retention period). A finished batch moves in two bulk writes (an insert into the
 * history, a delete from the queue) instead of one update per delivery: on FerretDB every
 * update is a transaction of its own, inserts and deletes of many documents are one.
 */
@Schema({ collection: 'webhook_deliveries', versionKey: false })
export class WebhookDelivery {
  /** The exact body as received (Meta escapes non-ASCII, so it is ASCII). */
  @Prop({ required: true }) raw_body!: string;
  @Prop({ required: true }) received_at!: Date;
  @Prop({ required: true, default: 'pending' }) status!: DeliveryStatus;
  @Prop({ default: 0 }) attempts!: number;
  /** Worker lease: another instance may take the delivery once it passes. */
  @Prop() lease_until?: Date;
  @Prop() lease_owner?: string;
  @Prop() last_error?: string;
  @Prop() processed_at?: Date;
  /** What processing did: counts, and entries that named no connected account. */
  @Prop({ type: MongooseSchema.Types.Mixed }) result?: Record<string, unknown>;
  /** Business account ids of the entries, so unroutable deliveries can be replayed on connect. */
  @Prop({ type: [String], default: undefined }) unroutable_ids?: string[];
  /** `entry[].id` of the body (business accounts), recorded at the ack: whose delivery it is. */
  @Prop({ type: [String], default: undefined }) entry_ids?: string[];
}

export type WebhookDeliveryDocument = HydratedDocument<WebhookDelivery>;
export const WebhookDeliverySchema = SchemaFactory.createForClass(WebhookDelivery);

/** The model name of the queue of pending deliveries (same document shape, `webhook_pending`). */
export const PENDING_DELIVERY = 'PendingDelivery';
export const PendingDeliverySchema = SchemaFactory.createForClass(WebhookDelivery);
PendingDeliverySchema.set('collection', 'webhook_pending');
// The sweep (leases that passed); the queue only holds the backlog, so this stays cheap anyway.
PendingDeliverySchema.index({ lease_until: 1 });

// The retention purge.
WebhookDeliverySchema.index({ status: 1, processed_at: 1 });
WebhookDeliverySchema.index({ unroutable_ids: 1 });
// GET /webhook/deliveries, scoped to the caller's accounts; failed counts per account (health).
WebhookDeliverySchema.index({ entry_ids: 1, status: 1, received_at: -1 });
