import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { ConfigService } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import { AccountsModule } from './accounts/accounts.module';
import { AuthModule } from './auth/auth.module';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { AllowedMethodsModule } from './common/http/allowed-methods';
import { AppLoggerModule } from './common/logging/logger.module';
import { createValidationPipe } from './common/validation';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { CommentsModule } from './comments/comments.module';
import { DmsModule } from './dms/dms.module';
import { throttlerOptions, UserThrottlerGuard } from './common/http/user-throttler.guard';
import { HealthModule } from './health/health.module';
import { InstagramGraphModule } from './instagram-graph/instagram-graph.module';
import { WebhookModule } from './webhook/webhook.module';
import { SyncModule } from './sync/sync.module';

@Module({
  imports: [
    AppConfigModule,
    AppLoggerModule,
    DatabaseModule,
    EventEmitterModule.forRoot(),
    ScheduleModule.forRoot(),
    ThrottlerModule.forRootAsync({ inject: [ConfigService], useFactory: throttlerOptions }),
    AuthModule,
    HealthModule,
    InstagramGraphModule,
    AccountsModule,
    DmsModule,
    CommentsModule,
    WebhookModule,
    SyncModule,
    // 405 + Allow for a method a documented path does not have (src/common/http).
    AllowedMethodsModule,
  ],
  providers: [
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    // Global guards run in the order of these providers, and both are registered here (not in
    // their modules, whose scan order would put the throttler first): the JWT guard names the
    // caller, then the throttler counts per caller (per IP on public routes).
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_GUARD, useClass: UserThrottlerGuard },
  ],
})
export class AppModule {}
