import { ConfigService } from '@nestjs/config';
import { Env } from './env';

/** The typed ConfigService every module injects: `config.get('PORT', { infer: true })`. */
export type AppConfig = ConfigService<Env, true>;
