import { Global, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { ConfigService } from '@nestjs/config';
import { AppConfig } from '../config/app-config';
import { JWT_POLICY, jwtPolicyFromConfig } from './jwt-auth.guard';

@Global()
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [ConfigService],
      useFactory: (config: AppConfig) => ({
        secret: config.get('JWT_SECRET', { infer: true }),
        signOptions: { algorithm: 'HS256' },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  // JwtAuthGuard is registered as APP_GUARD by AppModule, not here: global guards run in
  // registration order and it must run before the per-user rate limiter (src/app.module.ts).
  providers: [{ provide: JWT_POLICY, inject: [ConfigService], useFactory: jwtPolicyFromConfig }],
  exports: [JwtModule, JWT_POLICY],
})
export class AuthModule {}
