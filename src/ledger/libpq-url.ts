// PostgreSQL URLs as libpq reads them (and so psql, and every other PostgreSQL tool an operator checks
// a URL with): `postgres://host/db?user=u&password=p` is a valid way to give credentials. The `postgres`
// driver takes only the URL's userinfo for them and sends other query parameters to the server as
// settings, so such a URL connected as the OS user with no password, and failed confusingly.
const CREDENTIALS = ['user', 'password', 'dbname'] as const;

/** The URL with libpq's `user`, `password` and `dbname` query parameters moved where the driver reads them. */
export function driverUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text; // the driver reports what is wrong with it
  }
  if (!CREDENTIALS.some((name) => url.searchParams.has(name))) return text;
  const user = url.searchParams.get('user');
  const password = url.searchParams.get('password');
  const dbname = url.searchParams.get('dbname');
  // Given both ways, the query parameter is used: it is written later in the URL.
  if (user !== null) url.username = encodeURIComponent(user);
  if (password !== null) url.password = encodeURIComponent(password);
  if (dbname !== null) url.pathname = `/${encodeURIComponent(dbname)}`;
  for (const name of CREDENTIALS) url.searchParams.delete(name);
  return url.toString();
}
