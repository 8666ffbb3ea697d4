import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { EraseModule } from '../erase/erase.module';
import { RecognitionModule } from '../recognition/recognition.module';
import { IdentitiesController, IdentityExistsGuard } from './identities.controller';
import { IdentitiesRepository } from './identities.repository';
import { IdentitiesService } from './identities.service';
import { InterruptedDeletionSweep } from './interrupted-deletion-sweep';

/** Identities (named people) of a collection, enrolment of their faces, and the sweep that finishes interrupted deletions. */
@Module({
  imports: [CollectionsModule, EraseModule, RecognitionModule],
  controllers: [IdentitiesController],
  providers: [IdentitiesService, IdentitiesRepository, IdentityExistsGuard, InterruptedDeletionSweep],
  exports: [IdentitiesRepository],
})
export class IdentitiesModule {}
