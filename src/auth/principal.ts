/** Who is calling: what a virtual key resolves to. */
export interface Principal {
  keyId: string;
  organization: string;
  project?: string;
  /** The user, or the key id when the key names no user (so per-user limits still apply). */
  user: string;
  tier?: string;
  groups: string[];
  /** Routes the key may use; undefined means all. */
  routes?: string[];
}
