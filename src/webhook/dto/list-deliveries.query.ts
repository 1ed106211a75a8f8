import { EnumProperty, IntegerQueryProperty } from '../../common/api-properties';
import type { DeliveryStatus } from '../schemas/webhook-delivery.schema';

const STATUSES: readonly DeliveryStatus[] = ['pending', 'processed', 'failed', 'ignored'];

export class ListDeliveriesQueryDto {
  @EnumProperty(STATUSES, { required: false, default: 'failed' })
  status: DeliveryStatus = 'failed';

  @IntegerQueryProperty({ minimum: 1, maximum: 500, default: 100 })
  limit = 100;
}
