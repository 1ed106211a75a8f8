import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AccountsModule } from '../accounts/accounts.module';
import { InstagramGraphModule } from '../instagram-graph/instagram-graph.module';
import { InstagramComment, InstagramCommentSchema } from './schemas/instagram-comment.schema';
import { InstagramConversation, InstagramConversationSchema } from './schemas/instagram-conversation.schema';
import { InstagramDmId, InstagramDmIdSchema } from './schemas/instagram-dm-id.schema';
import { InstagramDm, InstagramDmSchema } from './schemas/instagram-dm.schema';
import { DmsService } from './dms.service';

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
  providers: [DmsService],
  exports: [DmsService],
})
export class DmsModule {}
