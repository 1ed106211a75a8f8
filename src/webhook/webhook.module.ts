import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { DmsModule } from '../dms/dms.module';
import { WebhookDelivery, WebhookDeliverySchema } from './schemas/webhook-delivery.schema';

@Module({
  imports: [
    MongooseModule.forFeature([{ name: WebhookDelivery.name, schema: WebhookDeliverySchema }]),
    DmsModule,
  ],
})
export class WebhookModule {}
