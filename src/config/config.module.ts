import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { validateEnv } from './env';

/**
 * Outside production a committed `.env.development` supplies harmless defaults, so that
 * `npm start` works on a fresh clone with no file to edit. A local `.env` wins over it, and the
 * process environment wins over both. ENVIRONMENT is read from process.env here because it picks
 * the files ConfigService will be built from (scripts/settings.ts reuses it the same way).
 */
export function envFiles(environment = process.env.ENVIRONMENT): string[] {
  return environment === 'production' ? ['.env'] : ['.env', '.env.development'];
}

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      cache: true,
      envFilePath: envFiles(),
      validate: validateEnv,
    }),
  ],
})
export class AppConfigModule {}
