import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'igdm:isPublic';

/** Opts a route out of the global JWT guard: webhook, health, docs, OAuth callback. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
