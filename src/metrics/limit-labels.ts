// Limit ids as metric labels. Ids that name a user (`user:alice:daily`, `route:r:key:alice-laptop:input`)
// grow with the user base, so unless user labels are switched on they collapse to one series per limit.

/** The label for a limit id: itself, or with the user / key part replaced by `*`. */
export function limitLabel(id: string, userLabels: boolean): string {
  if (userLabels) return id;
  if (id.startsWith('user:')) return `user:*:${id.split(':').slice(2).join(':')}`;
  const m = /^route:([^:]+):key:[^:]+:(.+)$/.exec(id);
  return m ? `route:${m[1]}:key:*:${m[2]}` : id;
}
