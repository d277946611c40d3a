// The sampling parameters (`temperature`, `top_p`, `top_k`) as Anthropic refuses them, so the mock does too:
// - since API version 2026-10-21 (`anthropic-version`) they are gone, and a request that sends any of them
//   is a 400 even at its default value ("temperature: Extra inputs are not permitted"), on /v1/messages and
//   token counting alike (platform.claude.com/docs/en/api/migration-2026-10-21);
// - the models from Claude Opus 4.1, Sonnet 4.5 and Haiku 4.5 on refuse `temperature` and `top_p` together,
//   under any version ("`temperature` and `top_p` cannot both be specified for this model").
// The same version refuses some content too (anthropic-version-content.ts), checked here with the rest.
import { takesSampling } from '../anthropic/api-version.js';
import { refusedContent } from './anthropic-version-content.js';

const SAMPLING = ['temperature', 'top_p', 'top_k'] as const;

/** Anthropic's 400 message for a body its API version refuses, or undefined when the version takes it. */
export function refusedByApiVersion(body: Record<string, unknown>, version: string | string[] | undefined): string | undefined {
  if (typeof version !== 'string' || takesSampling(version)) return undefined;
  const field = SAMPLING.find((name) => body[name] !== undefined);
  return field === undefined ? refusedContent(body.messages) : `${field}: Extra inputs are not permitted`;
}

// `claude-<family>-<major>[-<minor>]`, the minor of one or two digits (`claude-sonnet-4-20250514` has none).
const MODEL_VERSION = /^claude-(opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:-|$)/;
// The first of each family that takes only one of the two.
const ONE_OF_TWO_FROM: Record<string, number> = { opus: 4.1, sonnet: 4.5, haiku: 4.5 };

/** Anthropic's 400 message when `model` takes only one of `temperature` and `top_p` and the body sends both. */
export function refusedTogether(body: Record<string, unknown>): string | undefined {
  if (body.temperature === undefined || body.temperature === null || body.top_p === undefined || body.top_p === null) return undefined;
  const m = typeof body.model === 'string' ? MODEL_VERSION.exec(body.model) : null;
  if (!m) return undefined;
  const version = Number(m[2]) + Number(m[3] ?? 0) / 10;
  return version >= ONE_OF_TWO_FROM[m[1]!]! ? '`temperature` and `top_p` cannot both be specified for this model. Please use only one.' : undefined;
}
