import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { InstagramGraphModule } from '../instagram-graph/instagram-graph.module';
import { AccountsService } from './accounts.service';
import { Account, AccountSchema } from './schemas/account.schema';
import { UserSettings, UserSettingsSchema } from './schemas/user-settings.schema';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: Account.name, schema: AccountSchema },
      { name: UserSettings.name, schema: UserSettingsSchema },
    ]),
    InstagramGraphModule,
  ],
  providers: [AccountsService],
  exports: [AccountsService],
})
export class AccountsModule {}
