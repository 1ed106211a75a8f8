import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../../config/app-config';
import { Environment } from '../../config/env';
import { capLogged, capString } from './log-caps';
import { errorForLog } from './log-error';

/**
 * Paths that could carry a secret or a customer's words. Logs keep ids only; these are a net
 * under the rule, not a licence to log payloads.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-hub-signature"]',
  'req.query.access_token',
  'req.query.code',
  'req.query.state',
  'req.query["hub.verify_token"]',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.accessToken',
  '*.client_secret',
  '*.refresh_token',
  '*.text',
  '*.message_text',
  '*.raw_body',
  '*.token',
];

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

export const AppLoggerModule = LoggerModule.forRootAsync({
  inject: [ConfigService],
  useFactory: (config: AppConfig) => {
    const development = config.get('ENVIRONMENT', { infer: true }) === Environment.Development;
    return {
      pinoHttp: {
        level: config.get('LOG_LEVEL', { infer: true }),
        transport: development
          ? {
              target: 'pino-pretty',
              options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' },
            }
          : undefined,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        formatters: {
          log: (object: Record<string, unknown>) => capLogged(object) as Record<string, unknown>,
        },
        hooks: {
          logMethod(args: unknown[], method: (...args: unknown[]) => void) {
            method.apply(
              this,
              args.map((arg) => (typeof arg === 'string' ? capString(arg) : arg)),
            );
          },
        },
        genReqId: (req: IncomingMessage, res: ServerResponse) => {
          const given = req.headers['x-request-id'];
          const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
          res.setHeader('x-request-id', id);
          return id;
        },
        // The URL's query string can hold an OAuth code or state: log the path only.
        serializers: {
          req: (req: { id: unknown; method: string; url: string }) => ({
            id: req.id,
            method: req.method,
            path: capString(req.url.split('?')[0]),
          }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          // Every `{ err }` (5xx in the exception filter, jobs, pino-http's own): no nested details.
          err: errorForLog,
        },
        customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
          error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
        autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' },
      },
    };
  },
});
