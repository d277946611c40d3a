// `server.cors_origins`: origins as browsers send them, `"*"`, or nothing; each mistake named at its line.
import { describe, expect, it } from 'vitest';
import { issuesOf, load } from '../../test/helpers/config-texts.js';

const at = (line: number, path: string, message: string) => ({ file: 'tollgate.yaml', line, path, message });

describe('server.cors_origins', () => {
  it('is off by default, takes a list of origins, and `"*"` alone or as a list', () => {
    expect(load('{}\n').server.corsOrigins).toEqual([]);
    expect(load('server:\n  cors_origins: ["https://tools.example.com", "http://localhost:5173", "http://[::1]:8080"]\n').server.corsOrigins)
      .toEqual(['https://tools.example.com', 'http://localhost:5173', 'http://[::1]:8080']);
    expect(load('server: {cors_origins: "*"}\n').server.corsOrigins).toEqual(['*']);
    expect(load('server: {cors_origins: ["*"]}\n').server.corsOrigins).toEqual(['*']);
  });

  it('refuses what a browser never sends as Origin, saying what to write, at the line of the item', () => {
    const issues = issuesOf(`server:
  cors_origins:
    - https://tools.example.com/
    - https://tools.example.com/app
    - tools.example.com
    - ftp://files.example.com
    - https://Tools.Example.com:443
    - https://a.example.com, https://b.example.com
`);
    expect(issues).toEqual([
      at(3, 'server.cors_origins[0]', '`https://tools.example.com/` ends with a slash, which browsers never send in Origin; write `https://tools.example.com`'),
      at(4, 'server.cors_origins[1]', '`https://tools.example.com/app` is not an origin: an origin has no path, query or fragment; write `https://tools.example.com`'),
      at(5, 'server.cors_origins[2]', '`tools.example.com` is not an origin: expected scheme://host[:port], such as `https://tools.example.com`'),
      at(6, 'server.cors_origins[3]', '`ftp://files.example.com` is not an origin: it must start with http:// or https://'),
      at(7, 'server.cors_origins[4]', 'browsers send this origin as `https://tools.example.com` (lower case, without a default port); write that'),
      at(8, 'server.cors_origins[5]', 'write one origin per list item, e.g. `[https://a.example.com, https://b.example.com]`'),
    ]);
  });

  it('refuses one origin written without a list, and `*` mixed with origins', () => {
    expect(issuesOf('server:\n  cors_origins: https://tools.example.com\n')).toEqual([
      at(2, 'server.cors_origins', 'expected a list of origins (e.g. `[https://tools.example.com]`) or `"*"` for any origin'),
    ]);
    expect(issuesOf('server:\n  cors_origins: ["https://tools.example.com", "*"]\n')).toEqual([
      at(2, 'server.cors_origins[1]', '`*` allows every origin: write `cors_origins: "*"` alone, or list the origins'),
    ]);
    expect(issuesOf('server: {cors_origins: true}\n')).toEqual([at(1, 'server.cors_origins', 'expected a string or a list, got `true`/`false`')]);
  });
});
