// A configured provider whose wire format this build cannot speak: every call fails clearly, nothing is charged.
import type { Provider, UpstreamResponse } from './provider.js';

export class UnsupportedProvider implements Provider {
  constructor(
    readonly name: string,
    private readonly reason: string,
  ) {}

  async send(): Promise<UpstreamResponse> {
    throw new Error(this.reason);
  }

  async close(): Promise<void> {}
}
