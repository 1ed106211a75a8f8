import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AccountsModule } from '../accounts/accounts.module';
import { DmsModule } from '../dms/dms.module';
import { DeliveryWorker } from './delivery-worker.service';
import {
  PENDING_DELIVERY,
  PendingDeliverySchema,
  WebhookDelivery,
  WebhookDeliverySchema,
} from './schemas/webhook-delivery.schema';
import { WebhookSignatureGuard } from './webhook-signature.guard';
import { WebhookController } from './webhook.controller';
import { WebhookService } from './webhook.service';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: WebhookDelivery.name, schema: WebhookDeliverySchema },
      { name: PENDING_DELIVERY, schema: PendingDeliverySchema },
    ]),
    DmsModule,
    AccountsModule,
  ],
  controllers: [WebhookController],
  providers: [WebhookService, DeliveryWorker, WebhookSignatureGuard],
  exports: [WebhookService],
})
export class WebhookModule {}
