import { parse } from 'graphql';
import { LabelBudget, rootFieldsLabel } from './graphql-operation.js';

describe('rootFieldsLabel', () => {
  it('names the root field(s) of the operation, sorted and distinct', () => {
    expect(rootFieldsLabel(parse('{ recommendations(userId: "u") { source } }'))).toBe('recommendations');
    expect(
      rootFieldsLabel(parse('query Q { user(id: "u") { id } a: popularItems { score } b: popularItems { score } }')),
    ).toBe('popularItems+user');
    expect(rootFieldsLabel(parse('mutation { recordInteractions(interactions: []) { duplicates } }'))).toBe(
      'recordInteractions',
    );
  });

  it('follows root fragments and picks the operation by name', () => {
    const doc = parse(
      'query A { ...F } query B { items { nodes { id } } } fragment F on Query { similarItems(itemId: "m") { score } ... on Query { user(id: "u") { id } } }',
    );
    expect(rootFieldsLabel(doc, 'A')).toBe('similarItems+user');
    expect(rootFieldsLabel(doc, 'B')).toBe('items');
    // Several operations without a name, or an unknown name: no operation.
    expect(rootFieldsLabel(doc)).toBe('invalid');
    expect(rootFieldsLabel(doc, 'C')).toBe('invalid');
  });
});

describe('LabelBudget', () => {
  it('passes the first N distinct labels, then maps new ones to other', () => {
    const budget = new LabelBudget(2);
    expect([budget.admit('a'), budget.admit('b'), budget.admit('a'), budget.admit('c'), budget.admit('b')]).toEqual([
      'a',
      'b',
      'a',
      'other',
      'b',
    ]);
  });
});
