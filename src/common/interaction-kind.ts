import { registerEnumType } from '@nestjs/graphql';
import { InteractionKind } from '../generated/prisma/enums.js';

registerEnumType(InteractionKind, {
  name: 'InteractionKind',
  description: 'What the user did. IMPLICIT is a bare positive signal; RATING carries the rating in `value`.',
});

export { InteractionKind };
