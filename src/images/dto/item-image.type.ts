import { Field, Int, ObjectType } from '@nestjs/graphql';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({
  description:
    "An item's stored picture: the upload normalised to a centre-cropped size×size square of 1 (grayscale) or 3 (RGB) channels " +
    '(RECODER_IMAGE_SIZE, RECODER_IMAGE_CHANNELS), alpha composited over white.',
})
export class ItemImageInfo {
  /** Internal items.id (not exposed): the png field reads the pixels by it. */
  itemId: number;

  @Field(() => Int, { description: 'Side of the stored square, in pixels.' })
  size: number;

  @Field(() => Int, { description: '1 = grayscale, 3 = RGB.' })
  channels: number;

  @Field({ description: 'Encoding of the upload: png or jpeg.' })
  sourceType: string;

  @Field(() => Int, { description: 'Size of the upload (encoded), in bytes.' })
  sourceBytes: number;

  @Field(() => DateTimeScalar)
  updatedAt: Date;
}
