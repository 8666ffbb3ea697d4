import { Global, Module } from '@nestjs/common';
import { IndexOpsClient } from './index-ops.client';

/** The index operations client, global so any feature (people, erase, identities) injects it. */
@Global()
@Module({ providers: [IndexOpsClient], exports: [IndexOpsClient] })
export class IndexOpsModule {}
