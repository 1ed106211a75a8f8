import 'reflect-metadata';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { InvalidEnvironmentError } from './config/env';
import { configureApp } from './configure-app';

async function bootstrap(): Promise<void> {
  const started = Date.now();
  // Logs stay buffered until pino takes over; a start-up failure is printed once, below.
  const app = await NestFactory.create(AppModule, {
    rawBody: true,
    bufferLogs: true,
    autoFlushLogs: false,
    abortOnError: false,
  });
  configureApp(app);
  const port = app.get<AppConfig>(ConfigService).get('PORT', { infer: true });
  await app.listen(port, '0.0.0.0');
  const url = `http://localhost:${port}`;
  // Printed plainly so a human sees where to go, whatever the log format.
  process.stdout.write(
    `igdm listening on ${url} (started in ${Date.now() - started} ms) — Swagger UI: ${url}/docs — health: ${url}/health\n`,
  );
}

bootstrap().catch((error: unknown) => {
  // Config errors are one line naming the variable; anything else at start-up is fatal too.
  const invalid = findInvalidEnvironment(error);
  console.error(
    invalid
      ? invalid.message
      : `igdm failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});

function findInvalidEnvironment(error: unknown): InvalidEnvironmentError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof InvalidEnvironmentError) return e;
    if (e.message.startsWith('Invalid environment:')) return e as InvalidEnvironmentError;
  }
  return undefined;
}
