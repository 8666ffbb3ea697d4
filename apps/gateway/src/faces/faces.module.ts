import { Module } from '@nestjs/common';
import { FacesController } from './faces.controller';

/** Face thumbnails (the aligned crops the detector keeps during ingest). */
@Module({ controllers: [FacesController] })
export class FacesModule {}
