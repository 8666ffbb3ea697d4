import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { DetectQueueRepository } from './detect-queue.repository';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { PhotoUploadInterceptor } from './photo-upload.interceptor';
import { InterruptedSubmissionSweep } from './interrupted-submission-sweep';
import { CollectionExistsGuard, OpenJobGuard } from './submission.guards';

@Module({
  imports: [CollectionsModule],
  controllers: [JobsController],
  providers: [JobsService, DetectQueueRepository, PhotoUploadInterceptor, CollectionExistsGuard, OpenJobGuard, InterruptedSubmissionSweep],
})
export class JobsModule {}
