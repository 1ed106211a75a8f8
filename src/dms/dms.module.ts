import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AccountsModule } from '../accounts/accounts.module';
import { InstagramGraphModule } from '../instagram-graph/instagram-graph.module';
import { InstagramComment, InstagramCommentSchema } from './schemas/instagram-comment.schema';
import {
  InstagramConversation,
  InstagramConversationSchema,
} from './schemas/instagram-conversation.schema';
import { InstagramDmId, InstagramDmIdSchema } from './schemas/instagram-dm-id.schema';
import { InstagramDm, InstagramDmSchema } from './schemas/instagram-dm.schema';
import { DmSendService } from './dm-send.service';
import { DmsService } from './dms.service';
import { ConversationsService } from './conversations.service';
import { DmsIngestService } from './ingest/ingest.service';
import { BatchStore } from './ingest/batch-store';
import { CommentIngest } from './ingest/comment-ingest';
import { DmChangeEmitter } from './ingest/dm-change-emitter';
import { StorePressure } from './ingest/store-pressure';
import { ProfileEnrichment } from './ingest/enrichment';
import { ProfileReads } from './ingest/profile-reads';
import { DmLedger } from './ingest/ledger';
import { MessageStore } from './ingest/message-store';
import { TargetEventApplier } from './ingest/target-events';
import { LegacyCustomerIdService } from './legacy-customer-id.service';
import { LegacyLedgerService } from './legacy-ledger.service';
import { CommentsService } from './comments.service';
import { CommentsReadService } from './comments-read.service';
import { DmsController } from './dms.controller';
import { DmWriteLock } from './dm-write-lock';
import { AttachmentsController } from './attachments.controller';
import { AttachmentsService } from './attachments.service';
import { ConfigService } from '@nestjs/config';
import {
  DMS_STREAM_OPTIONS,
  DmsStreamService,
  streamOptionsFromConfig,
} from './dms-stream.service';
import { AccountPurgeListener } from './account-purge.listener';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: InstagramDm.name, schema: InstagramDmSchema },
      { name: InstagramDmId.name, schema: InstagramDmIdSchema },
      { name: InstagramConversation.name, schema: InstagramConversationSchema },
      { name: InstagramComment.name, schema: InstagramCommentSchema },
    ]),
    AccountsModule,
    InstagramGraphModule,
  ],
  controllers: [DmsController, AttachmentsController],
  providers: [
    DmsService,
    DmSendService,
    DmsIngestService,
    DmLedger,
    MessageStore,
    BatchStore,
    TargetEventApplier,
    CommentIngest,
    ProfileEnrichment,
    ProfileReads,
    StorePressure,
    DmChangeEmitter,
    LegacyLedgerService,
    LegacyCustomerIdService,
    ConversationsService,
    CommentsService,
    CommentsReadService,
    DmsStreamService,
    DmWriteLock,
    AttachmentsService,
    { provide: DMS_STREAM_OPTIONS, inject: [ConfigService], useFactory: streamOptionsFromConfig },
    AccountPurgeListener,
  ],
  exports: [
    DmsService,
    DmsIngestService,
    ConversationsService,
    LegacyLedgerService,
    // The comment inbox (src/comments) reads instagram_comments through it.
    CommentsReadService,
  ],
})
export class DmsModule {}
