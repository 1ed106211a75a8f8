import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model } from 'mongoose';
import { InstagramDm } from './schemas/instagram-dm.schema';

@Injectable()
export class DmsService {
  constructor(@InjectModel(InstagramDm.name) private readonly dms: Model<InstagramDm>) {}
}
