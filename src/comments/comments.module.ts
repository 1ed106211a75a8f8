import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module';
import { DmsModule } from '../dms/dms.module';
import { CommentsController } from './comments.controller';
import { CommentsInboxService } from './comments-inbox.service';

/**
 * The comment inbox (issue 17, read side): `GET /instagram-comments` and
 * `GET /instagram-comments/:comment_id`. `instagram_comments` stays DmsModule's (its webhook
 * ingest, the private reply and the account purge write it; the private reply also stores a DM),
 * so this module reads it through DmsModule's exported CommentsReadService. Dependencies point
 * one way: comments → dms → accounts.
 */
@Module({
  imports: [AccountsModule, DmsModule],
  controllers: [CommentsController],
  providers: [CommentsInboxService],
})
export class CommentsModule {}
