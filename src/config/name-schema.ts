// Names of organizations, projects, tiers, groups, routes, providers, users and keys end up
// inside counter keys (`project:production:daily`) and model addresses (`route/model_id`),
// so separators used there are kept out of them.
import * as z from 'zod';

const NAME_CHARACTERS = /^[A-Za-z0-9_.@+-]+$/;
const NAME_START = /^[A-Za-z0-9_]/;

/**
 * A name: letters, digits and `_ . @ + -`, not starting with a punctuation mark other than `_`. Two checks,
 * so that a name of allowed characters is told what is wrong with it: its first one.
 */
export const nameSchema = z
  .string()
  .regex(NAME_CHARACTERS, { message: 'names may only use letters, digits and `_ . @ + -` (no spaces, `:`, `/`, `{` or `}`)', abort: true })
  .regex(NAME_START, { message: 'names may not start with `.`, `@`, `+` or `-`' });

/** `provider/model`, split on the first slash (the model part may contain more slashes). */
export const providerModelSchema = z
  .string()
  .regex(/^[^/\s]+\/\S+$/, { message: 'expected `provider/model`, e.g. `openai/gpt-4o`' });
