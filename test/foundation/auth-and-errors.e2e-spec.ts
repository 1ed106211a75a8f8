import { Body, Controller, Get, INestApplication, Module, Post } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { Test } from '@nestjs/testing';
import { IsInt, IsString, Max, MinLength } from 'class-validator';
import { createHmac } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
import request from 'supertest';
import { AuthUser } from '../../src/auth/auth-user';
import { CurrentUser } from '../../src/auth/current-user.decorator';
import { JWT_POLICY, JwtAuthGuard, type JwtPolicy } from '../../src/auth/jwt-auth.guard';
import { Public } from '../../src/auth/public.decorator';
import { AllExceptionsFilter } from '../../src/common/errors/all-exceptions.filter';
import { createValidationPipe } from '../../src/common/validation';

const SECRET = 'guard-test-secret-0123456789abcdef';

class EchoDto {
  @IsString() @MinLength(1) name!: string;
  @IsInt() @Max(10) count!: number;
}

/** A probe controller: the guard, pipe and filter under test are the production ones. */
@Controller('probe')
class ProbeController {
  @Get('me') me(@CurrentUser() user: AuthUser) {
    return { user_id: user.id };
  }
  @Public() @Get('open') open() {
    return { ok: true };
  }
  @Public() @Post('echo') echo(@Body() body: EchoDto) {
    return body;
  }
  @Public() @Get('boom') boom(): never {
    throw new Error('driver exploded: mongodb://user:password@host');
  }
}

@Module({
  imports: [
    JwtModule.register({ secret: SECRET, verifyOptions: { algorithms: ['HS256'] } }),
    LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
  ],
  controllers: [ProbeController],
  providers: [
    { provide: JWT_POLICY, useValue: { maxTtlSeconds: 86_400 } satisfies JwtPolicy },
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    { provide: APP_FILTER, useClass: AllExceptionsFilter },
  ],
})
class ProbeModule {}

function base64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  );
}

describe('JWT guard, validation and the error envelope', () => {
  let app: INestApplication;
  const jwt = new JwtService({ secret: SECRET });
  const sign = (payload: object, options: Parameters<JwtService['sign']>[1] = {}) =>
    jwt.sign(payload, { algorithm: 'HS256', ...options });

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterAll(() => app.close());

  const me = (authorization?: string) => {
    const call = request(app.getHttpServer()).get('/probe/me');
    return authorization === undefined ? call : call.set('Authorization', authorization);
  };

  it('should accept a valid token and expose its sub as the caller', async () => {
    const res = await me(`Bearer ${sign({ sub: 'user_123' }, { expiresIn: 3600 })}`).expect(200);
    expect(res.body).toEqual({ user_id: 'user_123' });
  });

  it.each([
    ['missing', undefined, 'Missing bearer token'],
    ['malformed', 'Bearer not-a-jwt', 'Malformed bearer token'],
    ['not bearer', 'Basic dXNlcjpwYXNz', 'Malformed bearer token'],
  ])('should answer 401 to a %s token', async (_kind, header, message) => {
    const res = await me(header).expect(401);
    expect(res.body).toEqual({
      success: false,
      error: { code: 'UNAUTHORIZED', message },
      detail: message,
    });
  });

  it('should answer 401 to a token signed with another secret', async () => {
    const forged = new JwtService({ secret: 'another-secret-entirely-000000000' }).sign({
      sub: 'user_123',
    });
    const res = await me(`Bearer ${forged}`).expect(401);
    expect(res.body.error.message).toBe('Invalid token');
  });

  it('should answer 401 to an expired token', async () => {
    const expired = sign({ sub: 'user_123', exp: Math.floor(Date.now() / 1000) - 60 });
    const res = await me(`Bearer ${expired}`).expect(401);
    expect(res.body.error.message).toBe('Token expired');
  });

  it('should answer 401 to an alg:none token', async () => {
    const none = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'user_123' })}.`;
    await me(`Bearer ${none}`).expect(401);
  });

  it('should answer 401 to an HS512 token even with the right secret', async () => {
    const header = base64url({ alg: 'HS512', typ: 'JWT' });
    const payload = base64url({ sub: 'user_123' });
    const signature = createHmac('sha512', SECRET)
      .update(`${header}.${payload}`)
      .digest('base64url');
    await me(`Bearer ${header}.${payload}.${signature}`).expect(401);
  });

  it('should answer 401 to a token without a subject', async () => {
    const res = await me(`Bearer ${sign({ role: 'admin' })}`).expect(401);
    expect(res.body.error.message).toBe('Token has no subject');
  });

  it('should let public routes through without a token', async () => {
    await request(app.getHttpServer()).get('/probe/open').expect(200, { ok: true });
  });

  it('should list every bad field of a body', async () => {
    const res = await request(app.getHttpServer())
      .post('/probe/echo')
      .send({ name: '', count: 11, extra: true })
      .expect(400);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
      'count',
      'extra',
      'name',
    ]);
    expect(res.body.detail).toBe(res.body.error.message);
  });

  it('should hide the text of unexpected errors behind a request id', async () => {
    const res = await request(app.getHttpServer())
      .get('/probe/boom')
      .set('x-request-id', 'req-abc-123')
      .expect(500);
    expect(JSON.stringify(res.body)).not.toContain('password');
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
    expect(res.body.error.request_id).toEqual(expect.any(String));
  });
});
