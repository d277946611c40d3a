import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of a secret, the only form in which keys are kept. */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
