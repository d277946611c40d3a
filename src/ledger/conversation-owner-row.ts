// A conversation's owner as both ledgers store it (migrations.ts, CONVERSATIONS_TABLE).
import type { ConversationOwner } from './ledger.js';

export interface OwnerRow {
  organization: string;
  project: string | null;
  provider: string;
}

export function toConversationOwner(row: OwnerRow): ConversationOwner {
  const owner: ConversationOwner = { organization: row.organization, provider: row.provider };
  if (row.project !== null) owner.project = row.project;
  return owner;
}
