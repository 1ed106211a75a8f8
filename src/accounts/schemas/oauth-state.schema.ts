import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Nonces of OAuth `state` values already used: a replayed callback is refused. A callback that
 * got a code also keeps it here until the dashboard redeems its ticket. igdm's own collection;
 * expired rows are deleted by the service (FerretDB has no TTL indexes).
 */
@Schema({ collection: 'oauth_states', versionKey: false })
export class OAuthState {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true }) used_at!: Date;
  @Prop({ required: true }) expires_at!: Date;
  /** sha256 of the connect ticket handed to the browser that completed the consent. */
  @Prop() ticket_hash?: string;
  /** Instagram's authorization code, encrypted like tokens; removed when the ticket is used. */
  @Prop() code?: string;
  @Prop() redeemed_at?: Date;
}

export const OAuthStateSchema = SchemaFactory.createForClass(OAuthState);
// The clean-up of expired nonces.
OAuthStateSchema.index({ expires_at: 1 });
// The finish looks its ticket up.
OAuthStateSchema.index({ ticket_hash: 1 });
