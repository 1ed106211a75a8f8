import { INestApplication } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { acceptedByGuard, anonymousLimit } from './common/http/anonymous-limit';
import { MAX_BODY_BYTES, MAX_DASHBOARD_BODY_BYTES } from './common/http/body-limits';
import { JsonTooDeepError, MAX_JSON_DEPTH, jsonNestsDeeperThan } from './common/http/json-depth';
import { isWebhookDelivery } from './common/http/route-path';
import { parseTrustProxy } from './common/http/trust-proxy';
import { finishOpenApiDocument } from './common/openapi/finish-document';
import type { AppConfig } from './config/app-config';

// Also read from here by the webhook controller's OpenAPI reply and by the tests.
export { MAX_BODY_BYTES, MAX_DASHBOARD_BODY_BYTES };

/** body-parser's own `type` test for JSON, narrowed to the webhook or to every other route. */
const isJson = (req: IncomingMessage) => Boolean((req as Request).is('application/json'));
const webhookJson = (req: IncomingMessage) => isWebhookDelivery(req as Request) && isJson(req);
const dashboardJson = (req: IncomingMessage) => !isWebhookDelivery(req as Request) && isJson(req);

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
  const config = app.get<AppConfig>(ConfigService);
  // Validated at start-up (src/config/env.ts); every per-IP count reads req.ip, which this sets.
  express.set('trust proxy', parseTrustProxy(config.get('TRUST_PROXY', { infer: true })));
  // Before the body parsers, so an unauthenticated flood is refused without reading a body.
  express.use(
    anonymousLimit({
      isAuthenticated: acceptedByGuard(app.get(ModuleRef).create(JwtAuthGuard)),
      limit: config.get('THROTTLE_ANONYMOUS_LIMIT', { infer: true }),
      windowMs: config.get('THROTTLE_TTL_MS', { infer: true }),
    }),
  );
  // body-parser names both jsonParser, which is what keeps Nest from adding its default one
  // (100 kB, on every route) after them.
  express.useBodyParser('json', { limit: MAX_BODY_BYTES, type: webhookJson });
  express.useBodyParser('json', { limit: MAX_DASHBOARD_BODY_BYTES, type: dashboardJson });
  express.useBodyParser('urlencoded', { limit: MAX_DASHBOARD_BODY_BYTES, extended: false });
  express.use(refuseDeepJson);
  express.disable('x-powered-by');
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
  // What decorators cannot declare, and the 405 answers, which are read from the document.
  finishOpenApiDocument(app, document);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
  return app;
}
