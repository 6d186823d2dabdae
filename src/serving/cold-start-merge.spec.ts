import { RecommendationSource, type Recommendation } from './dto/serving.types.js';
import { mergeColdStart } from './cold-start.service.js';

const rec = (id: string, score: number, source = RecommendationSource.MODEL): Recommendation =>
  ({ item: { id } as Recommendation['item'], score, source }) as Recommendation;

describe('mergeColdStart', () => {
  it('merges by score and reserves slots for new items, replacing the lowest model items', () => {
    const items = [rec('a', 9), rec('b', 8), rec('c', 7), rec('d', 6), rec('e', 5)];
    const cold = [
      rec('x', 8.5, RecommendationSource.COLD_START),
      rec('y', 1, RecommendationSource.COLD_START),
      rec('z', 0.5, RecommendationSource.COLD_START),
    ];
    mergeColdStart(items, cold, 5, 2);
    expect(items.map((r) => r.item.id)).toEqual(['a', 'x', 'b', 'c', 'y']); // x by score, y by the reservation
    const few = [rec('a', 9)];
    mergeColdStart(few, [rec('y', 1, RecommendationSource.COLD_START)], 5, 2);
    expect(few.map((r) => r.item.id)).toEqual(['a', 'y']);
    const none = [rec('a', 9), rec('b', 8)];
    mergeColdStart(none, [rec('y', 1, RecommendationSource.COLD_START)], 2, 0);
    expect(none.map((r) => r.item.id)).toEqual(['a', 'b']);
  });
});
