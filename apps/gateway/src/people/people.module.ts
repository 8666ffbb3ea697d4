import { Module } from '@nestjs/common';
import { CollectionsModule } from '../collections/collections.module';
import { IdentityRecords } from './identity-records';
import { PeopleController } from './people.controller';
import { PeopleService } from './people.service';

@Module({
  imports: [CollectionsModule],
  controllers: [PeopleController],
  providers: [PeopleService, IdentityRecords],
})
export class PeopleModule {}
