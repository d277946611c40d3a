// Another process writing a SQLite file in rollback-journal mode (a fresh file before any gateway
// turned it to WAL), holding its write lock for a while: what a gateway starting next to another one
// meets.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

/** Starts the writer; resolves once it holds the lock, which it releases (COMMIT) after `holdMs`, then exits. */
export async function holdWriteLock(file: string, holdMs: number): Promise<{ released: Promise<void> }> {
  const code = `
const db = new (require(${JSON.stringify(DRIVER)}))(${JSON.stringify(file)});
db.exec('CREATE TABLE IF NOT EXISTS elsewhere (x)');
db.exec('BEGIN IMMEDIATE');
db.exec('INSERT INTO elsewhere VALUES (1)');
process.stdout.write('held\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = new Promise<void>((resolve, reject) =>
    child.once('exit', (status) => (status === 0 ? resolve() : reject(new Error(`the lock-holding process exited with ${status}`)))),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (status) => reject(new Error(`the lock-holding process exited with ${status} before taking the lock`)));
  });
  return { released };
}
