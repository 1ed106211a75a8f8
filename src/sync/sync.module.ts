import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { AccountsModule } from '../accounts/accounts.module';
import type { AppConfig } from '../config/app-config';
import { DmsModule } from '../dms/dms.module';
import { InstagramGraphModule } from '../instagram-graph/instagram-graph.module';
import { WebhookModule } from '../webhook/webhook.module';
import { ConversationPacer } from './conversation-pacer';
import { HistoryImportService } from './history-import.service';
import { ReconcileService } from './reconcile.service';
import { AccountSyncLease, AccountSyncLeaseSchema } from './schemas/account-sync-lease.schema';
import { AccountSyncState, AccountSyncStateSchema } from './schemas/account-sync-state.schema';
import { SyncInsights } from './sync-insights.service';
import { SyncLeases } from './sync-leases.service';
import { SYNC_SETTINGS, syncSettings } from './sync-settings';
import { SyncController } from './sync.controller';
import { ThreadSync } from './thread-sync.service';

/**
 * No silent gaps: history import on connect, scheduled reconciliation with Meta's conversations,
 * webhook-subscription drift repair, and the health details the account routes show. Sits above
 * dms and webhook and reaches their data only through their exported services.
 */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: AccountSyncState.name, schema: AccountSyncStateSchema },
      { name: AccountSyncLease.name, schema: AccountSyncLeaseSchema },
    ]),
    AccountsModule,
    DmsModule,
    InstagramGraphModule,
    WebhookModule,
  ],
  controllers: [SyncController],
  providers: [
    {
      provide: SYNC_SETTINGS,
      inject: [ConfigService],
      useFactory: (c: AppConfig) => syncSettings(c),
    },
    SyncLeases,
    ConversationPacer,
    ThreadSync,
    HistoryImportService,
    ReconcileService,
    SyncInsights,
  ],
  exports: [HistoryImportService, ReconcileService],
})
export class SyncModule {}
