import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

describe('redactUrl', () => {
  it('replaces the password and keeps the user, host, port, path and other parameters', () => {
    expect(redactUrl('redis://:hunter2@cache:6379/2')).toBe('redis://:***@cache:6379/2');
    expect(redactUrl('rediss://user:hunter2@cache:6380')).toBe('rediss://user:***@cache:6380');
    expect(redactUrl('postgres://app:hunter2@db:5432/ledger?sslmode=require')).toBe('postgres://app:***@db:5432/ledger?sslmode=require');
    expect(redactUrl('redis-cluster://:hunter2@a:7000,b:7001')).toBe('redis-cluster://:***@a:7000,b:7001');
  });

  it('hides all of a password holding an unencoded @ or /, which the drivers accept', () => {
    const out = redactUrl('redis://:p@ss/w@rd-SECRET@cache:6379/0');
    expect(out).toBe('redis://:***@cache:6379/0');
    expect(redactUrl('postgres://app:a@b-SECRET@db/x')).toBe('postgres://app:***@db/x');
  });

  it('hides secret query parameters', () => {
    expect(redactUrl('redis://cache:6379/0?password=SECRET')).toBe('redis://cache:6379/0?password=***');
    expect(redactUrl('postgres://app@db/x?sslmode=verify-full&sslpassword=SECRET&application_name=tg')).toBe('postgres://app@db/x?sslmode=verify-full&sslpassword=***&application_name=tg');
    expect(redactUrl('postgres://app@db/x?PassWord=SECRET@x')).toBe('postgres://app@db/x?PassWord=***');
  });

  it('leaves URLs without secrets, and non-URLs, as they are', () => {
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('sqlite:data/ledger.db')).toBe('sqlite:data/ledger.db');
    expect(redactUrl('memory')).toBe('memory');
  });
});
