import { Kind } from 'graphql';
import { GraphQLISODateTime } from '@nestjs/graphql';
import { DateTimeScalar } from './date-time.scalar.js';

describe('DateTimeScalar', () => {
  it("answers like @nestjs/graphql's GraphQLISODateTime, for the same name and description", () => {
    expect(DateTimeScalar.name).toBe(GraphQLISODateTime.name);
    expect(DateTimeScalar.description).toBe(GraphQLISODateTime.description);
    for (const d of [new Date(0), new Date('2026-12-08T01:02:03.456Z'), new Date(-1e12)]) {
      expect(DateTimeScalar.serialize(d)).toBe(GraphQLISODateTime.serialize(d));
      expect(DateTimeScalar.serialize(d)).toBe(d.toISOString()); // again, from memory
    }
    expect(DateTimeScalar.serialize('2026-01-01')).toBeNull();
    expect(() => DateTimeScalar.serialize(new Date(Number.NaN))).toThrow(RangeError);
    expect((DateTimeScalar.parseValue('2026-12-08T00:00:00Z') as Date).getTime()).toBe(Date.UTC(2026, 11, 8));
    expect((DateTimeScalar.parseLiteral({ kind: Kind.STRING, value: '2026-12-08T00:00:00Z' }) as Date).getTime()).toBe(
      Date.UTC(2026, 11, 8),
    );
    expect(DateTimeScalar.parseLiteral({ kind: Kind.INT, value: '1' })).toBeNull();
  });

  it('formats a date changed in place again', () => {
    const d = new Date('2026-01-01T00:00:00Z');
    expect(DateTimeScalar.serialize(d)).toBe('2026-01-01T00:00:00.000Z');
    d.setTime(Date.UTC(2027, 0, 2));
    expect(DateTimeScalar.serialize(d)).toBe('2027-01-02T00:00:00.000Z');
  });
});
