// Regression (QA): a provider `api_key` or `headers` value holding CR/LF (a secret pasted with its
// file's last newline, often through `${VAR}`) passed `check`, and every call then failed with a 502
// UND_ERR_INVALID_ARG that said nothing about why. Refused at load, naming file, line, field and variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../src/config/config-error.js';
import { loadPolicyFromTexts } from '../src/config/load-policy.js';

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadPolicyFromTexts([{ file: 'tollgate.yaml', text }], env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

const provider = (fields: string) => `providers:\n  openai:\n    type: openai\n${fields}`;

describe('values sent as HTTP headers', () => {
  it('refuses an api_key from ${VAR} that ends with a newline, naming the variable and never the value', () => {
    const out = problems(provider('    api_key: ${OPENAI_API_KEY}\n'), { OPENAI_API_KEY: 'sk-live-secret-123\n' });
    expect(out).toEqual([
      "tollgate.yaml:4: providers.openai.api_key: ends with a line break (CR or LF), which no HTTP header can carry: remove it (a value read from a file often keeps the file's last newline); it comes from ${OPENAI_API_KEY}: fix it where that variable is set",
    ]);
    expect(out.join('\n')).not.toContain('sk-live-secret');
  });

  it('refuses a CR/LF, a control character or a character beyond Latin-1 inside a header value', () => {
    const text = provider('    api_key: "sk-a\\r\\nX-Injected: 1"\n    headers:\n      openai-organization: "org\\u0000x"\n      x-team: "caf\\u00e9 \\u20ac"\n');
    expect(problems(text)).toEqual([
      'tollgate.yaml:4: providers.openai.api_key: holds a line break (CR or LF), which no HTTP header can carry',
      'tollgate.yaml:6: providers.openai.headers.openai-organization: holds a control character (U+0000), which no HTTP header can carry',
      'tollgate.yaml:7: providers.openai.headers.x-team: holds a character beyond Latin-1 (U+20AC), which no HTTP header can carry',
    ]);
  });

  it('still accepts what a header can carry: visible ASCII, inner space and tab, obs-text', () => {
    expect(problems(provider('    api_key: "sk-abc"\n    headers:\n      x-a: "a b\\tc"\n      x-b: "caf\\u00e9"\n'))).toEqual([]);
  });

  it('refuses client secrets no request can carry, naming the variable', () => {
    const text = 'server: {admin_key: "${ADMIN}"}\nmetrics: {bearer_token: "scr\\u0007ape"}\nkeys:\n  - {id: a, key: "caf\\u00e9-key"}\n';
    expect(problems(text, { ADMIN: 'tg-admin-secret\r\n' })).toEqual([
      "tollgate.yaml:1: server.admin_key: ends with a line break (CR or LF), which no HTTP header can carry: remove it (a value read from a file often keeps the file's last newline); it comes from ${ADMIN}: fix it where that variable is set",
      'tollgate.yaml:2: metrics.bearer_token: holds a control character (U+0007), which no HTTP header can carry',
      'tollgate.yaml:4: keys[0].key: holds a character beyond ASCII (U+00E9), which the gateway cannot match in a request header: use ASCII',
    ]);
  });
});
