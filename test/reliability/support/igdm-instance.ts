/**
 * igdm as the reliability suite runs it in a child process: exactly src/main.ts's pipeline
 * (AppModule + configureApp), plus one test hook outside the app's routes:
 * `POST /__reliability/refresh-tokens` runs the token refresh job once (the hourly cron's body)
 * and answers its counts, so two instances can be made to race it. (A signal would not do:
 * enableShutdownHooks() turns SIGUSR2 into a shutdown.)
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { AccountTokensService } from '../../../src/accounts/account-tokens.service';
import { AppModule } from '../../../src/app.module';
import { configureApp } from '../../../src/configure-app';

async function main(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    rawBody: true,
    bufferLogs: true,
    autoFlushLogs: false,
  });
  configureApp(app);
  app.use('/__reliability/refresh-tokens', (req: Request, res: Response) => {
    if (req.method !== 'POST') return void res.status(405).end();
    app
      .get(AccountTokensService)
      .refreshExpiringTokens()
      .then(
        (run) => res.status(200).json(run),
        (error: unknown) =>
          res.status(500).json({ error: error instanceof Error ? error.name : 'error' }),
      );
  });
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

main().catch((error: unknown) => {
  console.error(`igdm failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
