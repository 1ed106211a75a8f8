import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { InstagramGraphModule } from '../instagram-graph/instagram-graph.module';
import { AccountActivityService } from './account-activity.service';
import { AccountConnectService } from './account-connect.service';
import { AccountHealthRegistry } from './account-health.registry';
import { AccountPurgeStateService } from './account-purge-state.service';
import { AccountReauthListener } from './account-reauth.listener';
import { AccountSettingsService } from './account-settings.service';
import { AccountTokensService } from './account-tokens.service';
import { AccountWriteLock } from './account-write-lock';
import { ConnectLockService } from './connect-lock.service';
import { AccountsController } from './accounts.controller';
import { TokenBindingMigration } from './token-binding.migration';
import { AccountsService } from './accounts.service';
import { OAuthStateService } from './oauth-state.service';
import { Account, AccountSchema } from './schemas/account.schema';
import { AccountActivity, AccountActivitySchema } from './schemas/account-activity.schema';
import { ConnectLock, ConnectLockSchema } from './schemas/connect-lock.schema';
import { OAuthState, OAuthStateSchema } from './schemas/oauth-state.schema';
import { RefreshLease, RefreshLeaseSchema } from './schemas/refresh-lease.schema';
import { UserSettings, UserSettingsSchema } from './schemas/user-settings.schema';
import { UserSettingsController } from './user-settings.controller';
import { UserSettingsService } from './user-settings.service';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: Account.name, schema: AccountSchema },
      { name: AccountActivity.name, schema: AccountActivitySchema },
      { name: UserSettings.name, schema: UserSettingsSchema },
      { name: OAuthState.name, schema: OAuthStateSchema },
      { name: RefreshLease.name, schema: RefreshLeaseSchema },
      { name: ConnectLock.name, schema: ConnectLockSchema },
    ]),
    InstagramGraphModule,
  ],
  controllers: [AccountsController, UserSettingsController],
  providers: [
    AccountsService,
    AccountTokensService,
    AccountActivityService,
    AccountConnectService,
    OAuthStateService,
    UserSettingsService,
    AccountHealthRegistry,
    AccountPurgeStateService,
    AccountReauthListener,
    AccountSettingsService,
    AccountWriteLock,
    ConnectLockService,
    TokenBindingMigration,
  ],
  exports: [AccountsService, AccountTokensService, AccountHealthRegistry, AccountPurgeStateService],
})
export class AccountsModule {}
