import { Global, Logger, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { MongooseModule } from '@nestjs/mongoose';
import { Connection } from 'mongoose';
import { AppConfig } from '../config/app-config';
import { Environment } from '../config/env';
import { CONNECT_OPTIONS, DatabaseTarget } from './database-target';
import { DatabaseWatchdog } from './database-watchdog.service';
import { EmbeddedDatabaseService } from './embedded-database.service';
import { WritePriority } from './write-priority';

@Global()
@Module({
  providers: [
    EmbeddedDatabaseService,
    WritePriority,
    {
      provide: DatabaseTarget,
      inject: [ConfigService, EmbeddedDatabaseService],
      useFactory: async (config: AppConfig, embedded: EmbeddedDatabaseService) => {
        const configured = config.get('DATABASE_URL', { infer: true });
        const dbName = config.get('DATABASE_NAME', { infer: true });
        if (!configured && config.get('ENVIRONMENT', { infer: true }) === Environment.Production) {
          throw new Error('DATABASE_URL is missing (required in production)');
        }
        if (configured) {
          new Logger('Database').log({ dbName }, 'using the database at DATABASE_URL');
          return new DatabaseTarget(configured, dbName);
        }
        const uri = await embedded.start(config.get('EMBEDDED_DB_DIR', { infer: true }));
        return new DatabaseTarget(uri, dbName);
      },
    },
  ],
  exports: [EmbeddedDatabaseService, DatabaseTarget, WritePriority],
})
class DatabaseTargetModule {}

@Module({
  imports: [
    MongooseModule.forRootAsync({
      imports: [DatabaseTargetModule],
      inject: [DatabaseTarget, EmbeddedDatabaseService],
      useFactory: (target: DatabaseTarget, embedded: EmbeddedDatabaseService) => ({
        uri: target.uri,
        dbName: target.dbName,
        ...CONNECT_OPTIONS,
        connectionFactory: (connection: Connection) => {
          embedded.onStop(() => connection.close());
          return connection;
        },
      }),
    }),
  ],
  providers: [DatabaseWatchdog],
  exports: [DatabaseWatchdog],
})
export class DatabaseModule {}
