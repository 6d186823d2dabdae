import { Injectable } from '@nestjs/common';
import type { LoadedVersion } from './loaded-version.js';
import type { Recommendations } from './dto/serving.types.js';

/** Which version serves one recommendation request, and the experiment arm it belongs to (if any). */
export interface ServingRoute {
  version: LoadedVersion | null;
  experimentId: number | null;
  arm: number | null;
}

/** Who asked: a user id (`recommendations`) or the session id of an anonymous history (null: none given). */
export interface ServingSubject {
  id: string | null;
  anonymous: boolean;
}

/** One answer as served, for the impression log. */
export interface ServedAnswer {
  recommendationId: string;
  subject: ServingSubject;
  route: ServingRoute;
  /** Internal item ids in the order served. */
  itemIds: number[];
  fallback: boolean;
}

/**
 * Extension points of recommendation serving, set by feature modules (src/experiments): `route`
 * picks the version a request is ranked with (an experiment's arm), called when its batch starts;
 * `served` sees every answer (impressions). Unset, the active version serves and nothing is logged.
 * Kept here so that the serving services do not depend on the modules that extend it.
 */
@Injectable()
export class ServingHooks {
  route: ((subject: ServingSubject) => ServingRoute | null) | null = null;
  served: ((answer: ServedAnswer) => void) | null = null;
}

/** The internal item ids of an answer, in order (items carry external ids; `internalIds` maps them). */
export type AnswerWithIds = Recommendations & { internalIds: number[] };
