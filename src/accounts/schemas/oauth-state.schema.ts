import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Nonces of OAuth `state` values already used: a replayed callback is refused. igdm's own
 * collection; expired rows are deleted by the service (FerretDB has no TTL indexes).
 */
@Schema({ collection: 'oauth_states', versionKey: false })
export class OAuthState {
  @Prop({ type: String, required: true }) _id!: string;
  @Prop({ required: true }) user_id!: string;
  @Prop({ required: true }) used_at!: Date;
  @Prop({ required: true }) expires_at!: Date;
}

export const OAuthStateSchema = SchemaFactory.createForClass(OAuthState);
// The clean-up of expired nonces.
OAuthStateSchema.index({ expires_at: 1 });
