import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { EraseController } from './erase.controller';
import { EraseService } from './erase.service';

/** Erasure of photos and collections; exports EraseService for the identities feature (identity erase). */
@Module({
  imports: [CollectionsModule],
  controllers: [EraseController],
  providers: [EraseService],
  exports: [EraseService],
})
export class EraseModule {}
