import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { EraseModule } from '../erase/erase.module';
import { RecognitionModule } from '../recognition/recognition.module';
import { IdentitiesController, IdentityExistsGuard } from './identities.controller';
import { IdentitiesRepository } from './identities.repository';
import { IdentitiesService } from './identities.service';

/** Identities (named people) of a collection, and enrolment of their faces. */
@Module({
  imports: [CollectionsModule, EraseModule, RecognitionModule],
  controllers: [IdentitiesController],
  providers: [IdentitiesService, IdentitiesRepository, IdentityExistsGuard],
  exports: [IdentitiesRepository],
})
export class IdentitiesModule {}
