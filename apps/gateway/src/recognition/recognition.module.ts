import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { CollectionExistsGuard } from '../jobs/submission.guards';
import { RecognitionController } from './recognition.controller';
import { SyncCalls } from './sync-calls.service';
import { SyncUploadInterceptor } from './sync-upload.interceptor';

/** Search, verify and detect; exports the synchronous-call runner and its upload handling (enrolment uses them). */
@Module({
  imports: [CollectionsModule],
  controllers: [RecognitionController],
  providers: [SyncCalls, SyncUploadInterceptor, CollectionExistsGuard],
  exports: [SyncCalls, SyncUploadInterceptor],
})
export class RecognitionModule {}
