import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ConversationsService } from '../conversations.service';
import { DM_CHANGED, DmChangedEvent } from '../events/dm-events';
import type { StoredDm } from './ingest.types';

/** Announces a stored or changed DM (`dm.changed`), whichever part of the write side changed it. */
@Injectable()
export class DmChangeEmitter {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly events: EventEmitter2,
  ) {}

  emit(dm: StoredDm, change: 'created' | 'updated'): void {
    const event: DmChangedEvent = {
      userId: dm.user_id ?? '',
      accountId: dm.platform_account_id,
      dmId: dm._id.toHexString(),
      conversationId: this.conversations.conversationId(
        dm.platform_account_id,
        dm.customer_id ?? '',
      ),
      change,
      // A new DM is known whole here; an update's document is the one before it.
      ...(change === 'created' ? { dm } : {}),
    };
    this.events.emit(DM_CHANGED, event);
  }
}
