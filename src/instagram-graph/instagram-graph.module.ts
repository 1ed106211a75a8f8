import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/app-config';
import { ConversationEndpoints } from './conversation-endpoints';
import { GraphTransport } from './graph-transport';
import { DEFAULT_GRAPH_TUNING, GRAPH_TUNING } from './graph-tuning';
import { InstagramGraphService } from './instagram-graph.service';
import { MessagingEndpoints } from './messaging-endpoints';
import { OAuthEndpoints } from './oauth-endpoints';
import { ProfileEndpoints } from './profile-endpoints';
import { SubscriptionEndpoints } from './subscription-endpoints';

@Module({
  imports: [
    HttpModule.registerAsync({
      inject: [ConfigService],
      useFactory: (config: AppConfig) => ({
        timeout: config.get('GRAPH_TIMEOUT_MS', { infer: true }),
        // Graph calls never redirect; native http (not follow-redirects) also lets a failure tell
        // whether the request body was fully written, which decides "may have been sent".
        maxRedirects: 0,
      }),
    }),
  ],
  providers: [
    GraphTransport,
    ProfileEndpoints,
    MessagingEndpoints,
    SubscriptionEndpoints,
    OAuthEndpoints,
    ConversationEndpoints,
    InstagramGraphService,
    // Retry and throttle knobs; constants until they get env variables (tests override them).
    {
      provide: GRAPH_TUNING,
      inject: [ConfigService],
      useFactory: (config: AppConfig) => ({
        ...DEFAULT_GRAPH_TUNING,
        maxAttempts: config.get('GRAPH_MAX_ATTEMPTS', { infer: true }),
        usageThreshold: config.get('GRAPH_USAGE_THROTTLE_PERCENT', { infer: true }),
        maxWaitMs: config.get('GRAPH_MAX_WAIT_MS', { infer: true }),
      }),
    },
  ],
  exports: [InstagramGraphService],
})
export class InstagramGraphModule {}
