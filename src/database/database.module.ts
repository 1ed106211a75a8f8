import { Global, Logger, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import { AppConfig } from '../config/app-config';
import { Environment } from '../config/env';
import { EmbeddedDatabaseService } from './embedded-database.service';

@Global()
@Module({ providers: [EmbeddedDatabaseService], exports: [EmbeddedDatabaseService] })
class EmbeddedDatabaseModule {}

@Module({
  imports: [
    MongooseModule.forRootAsync({
      imports: [EmbeddedDatabaseModule],
      inject: [ConfigService, EmbeddedDatabaseService],
      useFactory: async (config: AppConfig, embedded: EmbeddedDatabaseService) => {
        const configured = config.get('DATABASE_URL', { infer: true });
        const dbName = config.get('DATABASE_NAME', { infer: true });
        if (!configured && config.get('ENVIRONMENT', { infer: true }) === Environment.Production) {
          throw new Error('DATABASE_URL is missing (required in production)');
        }
        const uri =
          configured ?? (await embedded.start(config.get('EMBEDDED_DB_DIR', { infer: true })));
        if (configured)
          new Logger('Database').log({ dbName }, 'using the database at DATABASE_URL');
        return {
          uri,
          dbName,
          // Fail fast instead of queueing writes for 30 s: an unacknowledged webhook is retried
          // by Meta, a hung one is not.
          serverSelectionTimeoutMS: 5_000,
          bufferCommands: false,
          autoIndex: true,
          connectionFactory: (connection: Connection) => {
            embedded.onStop(() => connection.close());
            return connection;
          },
        };
      },
    }),
  ],
})
export class DatabaseModule {}
