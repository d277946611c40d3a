// Routing in the mock: the models list and unknown paths and methods. Each endpoint's replies are tested
// beside its generator (openai-chat.test.ts, anthropic-messages.test.ts, ...).
import { describe, expect, it } from 'vitest';
import { handleMockRequest } from './index.js';
import { json, opts } from './test-fixtures.js';

describe('models and unknown routes', () => {
  it('lists models', () => {
    const { body } = json(handleMockRequest('GET', '/v1/models', undefined, opts));
    expect(body.object).toBe('list');
    expect(body.data[0]).toEqual({ id: 'gpt-4o', object: 'model', created: expect.any(Number), owned_by: 'system' });
    expect(json(handleMockRequest('GET', '/v1/models/gpt-4o', undefined, opts)).body.id).toBe('gpt-4o');
    expect(json(handleMockRequest('GET', '/v1/models/nope', undefined, opts)).body.error.code).toBe('model_not_found');
  });

  it('answers unknown paths and methods with an OpenAI 404', () => {
    const { status, body } = json(handleMockRequest('POST', '/v1/nothing?x=1', {}, opts));
    expect(status).toBe(404);
    expect(body).toEqual({ error: { message: 'Invalid URL (POST /v1/nothing)', type: 'invalid_request_error', param: null, code: null } });
    expect(json(handleMockRequest('GET', '/v1/chat/completions', undefined, opts)).status).toBe(404);
  });
});
