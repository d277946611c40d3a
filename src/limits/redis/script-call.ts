// The counter scripts' calls, written as Redis protocol (RESP) text by the store itself and handed to
// ioredis as ready-made commands. Every request sends one reservation of ~30 arguments (nine keys and
// nine spec strings that never change for a given limit): ioredis would copy the arguments, encode each
// one again and build the text from ~150 small strings per call. Here the parts that never change are
// encoded once per counter item, so a call is a dozen concatenations. ioredis still does everything
// else: connections, pipelines, cluster routing and redirections, command timeouts, replies.
import { createHash } from 'node:crypto';
import { Command } from 'ioredis';

/** One argument as RESP bulk string text: `$<byte length>\r\n<value>\r\n`. */
export function bulk(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/** A script's arguments as RESP text, keys first (each part counted as it is added). */
export class ScriptArgs {
  keys = '';
  keyCount = 0;
  args = '';
  argCount = 0;

  key(value: string): void {
    this.encodedKey(bulk(value));
  }

  /** A key already encoded with bulk(). */
  encodedKey(text: string): void {
    this.keys += text;
    this.keyCount++;
  }

  arg(value: string): void {
    this.encodedArg(bulk(value));
  }

  /** An argument already encoded with bulk(). */
  encodedArg(text: string): void {
    this.args += text;
    this.argCount++;
  }

  /** Appends another call's keys and arguments (merged settlements). */
  append(other: ScriptArgs): void {
    this.keys += other.keys;
    this.keyCount += other.keyCount;
    this.args += other.args;
    this.argCount += other.argCount;
  }
}

/**
 * A Lua script sent by its SHA1 (EVALSHA), or by its text: on a connection's first call of it, and again
 * when Redis does not have it (NOSCRIPT).
 */
export class Script {
  readonly sha: string;
  private readonly evalshaHead: string;
  private readonly evalHead: string;
  /** The connections (sockets) a call of this script has been written to by its text. */
  private readonly sentByText = new WeakSet<object>();

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
    this.evalshaHead = `$7\r\nevalsha\r\n${bulk(this.sha)}`;
    this.evalHead = `$4\r\neval\r\n${bulk(lua)}`;
  }

  /** The call's whole RESP text: `*<n>`, the command and script, the key count, the keys, the arguments. */
  text(a: ScriptArgs, byText: boolean): string {
    const head = byText ? this.evalHead : this.evalshaHead;
    return `*${a.keyCount + a.argCount + 3}\r\n${head}${bulk(String(a.keyCount))}${a.keys}${a.args}`;
  }

  /**
   * True the first time it is asked for a given connection: that call goes by its text. Redis runs one
   * connection's commands in the order they were written, and keeps a script it ran by its text, so
   * every later call on that connection finds it by SHA1, however soon it follows (no NOSCRIPT, which
   * would send a call again by its text after the calls written behind it had run).
   */
  firstOn(socket: object): boolean {
    if (this.sentByText.has(socket)) return false;
    this.sentByText.add(socket);
    return true;
  }

  /** Redis answered NOSCRIPT on that connection: it lost its scripts while the connection stayed open (SCRIPT FLUSH). */
  forget(socket: object): void {
    this.sentByText.delete(socket);
  }
}

/**
 * A script call as ioredis sends it: its text is written as it is, and its keys (for the cluster slot
 * and pipeline checks) are the organization's hash tag, which every key of the call shares.
 *
 * With `script` and `scriptArgs` (`resp` is then the EVALSHA), the call goes by the script's text instead when
 * it is the script's first on the connection it is written to. ioredis names that connection only as it
 * writes the command (a cluster routes it by its keys; a node still connecting holds it in its offline
 * queue until then), so this is decided here, in the order the commands reach the socket.
 */
export class ScriptCommand extends Command {
  /** The socket ioredis wrote it to (set by toWritable). */
  writtenTo: object | undefined = undefined;

  constructor(
    private readonly resp: string,
    private readonly tag: string,
    private readonly script?: Script,
    private readonly scriptArgs?: ScriptArgs,
  ) {
    super('evalsha', [], { replyEncoding: 'utf8' }); // replies as text, as ioredis's own commands have them
  }

  override toWritable(socket: object): string {
    this.writtenTo = socket;
    if (this.script && this.scriptArgs && this.script.firstOn(socket)) return this.script.text(this.scriptArgs, true);
    return this.resp;
  }

  override getKeys(): string[] {
    return [this.tag];
  }
}

/** True for Redis's answer to EVALSHA of a script it does not hold (restarted, SCRIPT FLUSH, new node). */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
