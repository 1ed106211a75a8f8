import { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import { JsonTooDeepError, MAX_JSON_DEPTH, jsonNestsDeeperThan } from './common/http/json-depth';

/** Largest webhook body accepted (Meta batches up to 1000 updates, far below this). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Runs after the parser and before any validator, on every route (the raw bytes are kept). */
function refuseDeepJson(req: Request & { rawBody?: Buffer }, _res: Response, next: NextFunction) {
  const tooDeep =
    req.rawBody !== undefined &&
    typeof req.is('application/json') === 'string' &&
    jsonNestsDeeperThan(req.rawBody, MAX_JSON_DEPTH);
  next(tooDeep ? new JsonTooDeepError(MAX_JSON_DEPTH) : undefined);
}

/**
 * Everything that needs the app instance, shared by main.ts and the e2e tests so both run the
 * same pipeline. Create the app with `{ rawBody: true, bufferLogs: true }`: the webhook
 * signature is computed over the raw bytes.
 */
export function configureApp(app: INestApplication): INestApplication {
  const express = app as NestExpressApplication;
  express.useLogger(app.get(Logger));
  express.flushLogs();
  express.useBodyParser('json', { limit: MAX_BODY_BYTES });
  express.useBodyParser('urlencoded', { limit: MAX_BODY_BYTES, extended: false });
  express.use(refuseDeepJson);
  express.disable('x-powered-by');
  express.set('trust proxy', 'loopback');
  app.enableShutdownHooks();
  // Longer than the idle timeout of the proxies that sit in front of it (AWS ALB: 60 s), so the
  // proxy, never igdm, closes an idle keep-alive connection. The other way round, a request sent
  // just as igdm closes the socket dies with a reset (a 502 at the proxy).
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('igdm — Instagram DM API')
      .setDescription(
        "Receive, store and send Instagram Direct Messages through Meta's Instagram Messaging API. " +
          'Every route except the webhook, health and OAuth callback needs a bearer JWT whose `sub` ' +
          'is your user id (`npm run token -- --user <id>` prints one for development).',
      )
      .setVersion('1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .addSecurityRequirements('bearer')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
  return app;
}
