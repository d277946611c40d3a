import { describe, expect, it } from 'vitest';
import { schemaValue, type ValueStyle } from './openai-structured-output.js';

const style: ValueStyle = { text: () => 'w', items: (min) => Math.max(1, Math.min(min, 3)) };

describe('schemaValue', () => {
  it("gives arrays as many items as the schema's minItems and maxItems allow, whatever the style's length", () => {
    const schema = { type: 'object', properties: { many: { type: 'array', items: { type: 'string' }, minItems: 5, maxItems: 6 }, none: { type: 'array', items: { type: 'string' }, maxItems: 0 } } };
    expect(schemaValue(schema, style)).toEqual({ many: ['w', 'w', 'w', 'w', 'w'], none: [] });
  });
});
