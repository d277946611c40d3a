// IANA time zone names, as Intl knows them (the zones server.timezone and `tollgate usage --timezone` take).

/** Whether `name` is a time zone this Node knows. */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
