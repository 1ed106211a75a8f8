import { Controller, Get, HttpStatus, INestApplication } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Logger, LoggerModule, PARAMS_PROVIDER_TOKEN, type Params } from 'nestjs-pino';
import { Writable } from 'node:stream';
import type { Options } from 'pino-http';
import request from 'supertest';
import { AppLoggerModule } from '../logging/logger.module';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { AppError } from './app-error';

/** Secret-looking values nested in errors the way HTTP clients and drivers nest them. */
const SECRETS = {
  header: 'Bearer EAAG-header-token-0123456789',
  body: 'EAAG-body-token-0123456789',
  cause: 'EAAG-cause-token-0123456789',
  details: 'EAAG-details-token-0123456789',
  duplicate: 'EAAG-duplicate-key-0123456789',
};

@Controller('boom')
class BoomController {
  /** An axios-style failure of a Graph call: request config and response body ride along. */
  @Get('http')
  http(): never {
    throw Object.assign(new Error('Request failed with status code 500'), {
      name: 'AxiosError',
      code: 'ERR_BAD_RESPONSE',
      config: { url: 'https://graph.instagram.com/me', headers: { Authorization: SECRETS.header } },
      response: { status: 500, data: { error: { message: 'oops', access_token: SECRETS.body } } },
    });
  }

  /** An AppError answered as 503, with details and a cause that quote a token. */
  @Get('app')
  app(): never {
    throw new AppError(HttpStatus.SERVICE_UNAVAILABLE, 'META_UNAVAILABLE', 'Instagram is down', {
      details: { meta_message: `retry with ${SECRETS.details}` },
      cause: new Error(`upstream said access_token=${SECRETS.cause}`),
    });
  }

  /** A driver error whose message and fields quote the document it refused. */
  @Get('driver')
  driver(): never {
    throw Object.assign(
      new Error(`E11000 duplicate key error dup key: { access_token: "${SECRETS.duplicate}" }`),
      { name: 'MongoServerError', code: 11000, keyValue: { access_token: SECRETS.duplicate } },
    );
  }
}

/** The pino options the app's logger module builds (LOG_LEVEL=debug, no pretty transport). */
async function appPinoOptions(): Promise<Options> {
  const ref = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot({
        isGlobal: true,
        ignoreEnvFile: true,
        load: [() => ({ LOG_LEVEL: 'debug', ENVIRONMENT: 'test' })],
      }),
      AppLoggerModule,
    ],
  }).compile();
  const params = ref.get<Params>(PARAMS_PROVIDER_TOKEN);
  await ref.close();
  return { ...(params.pinoHttp as Options), transport: undefined };
}

describe('AllExceptionsFilter logs of 5xx replies', () => {
  let app: INestApplication;
  const lines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const ref = await Test.createTestingModule({
      imports: [LoggerModule.forRoot({ pinoHttp: [await appPinoOptions(), sink] })],
      controllers: [BoomController],
    }).compile();
    // Silent while it starts (nestjs-pino's root logger is stdout until init), then the sink.
    app = ref.createNestApplication({ logger: false });
    app.useGlobalFilters(new AllExceptionsFilter());
    await app.init();
    app.useLogger(app.get(Logger));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('should log name, code and stack frames of the error, and none of its nested values', async () => {
    await request(app.getHttpServer()).get('/boom/http').expect(500);
    await request(app.getHttpServer()).get('/boom/app').expect(503);
    await request(app.getHttpServer()).get('/boom/driver').expect(500);

    const output = lines.join('\n');
    expect(Object.entries(SECRETS).filter(([, value]) => output.includes(value))).toEqual([]);
    expect(output).not.toContain('Request failed with status code 500');

    const failed = lines
      .map((line) => JSON.parse(line) as { msg?: string; err?: Record<string, unknown> })
      .filter((entry) => entry.msg === 'request failed');
    expect(failed.map((entry) => [entry.err?.name, entry.err?.code])).toEqual([
      ['AxiosError', 'ERR_BAD_RESPONSE'],
      ['AppError', 'META_UNAVAILABLE'],
      ['MongoServerError', 11000],
    ]);
    for (const { err } of failed) {
      expect(Object.keys(err!).sort()).toEqual(
        err!.cause ? ['cause', 'code', 'name', 'stack'] : ['code', 'name', 'stack'],
      );
      expect(err!.stack).toMatch(new RegExp(`^${String(err!.name)}\\n\\s+at `));
    }
    expect(failed[1].err!.cause).toEqual({ name: 'Error' });
  });
});
