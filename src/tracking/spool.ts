import { closeSync, fdatasync as fdatasyncCallback, fdatasyncSync, fsyncSync, ftruncateSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * An append-only local log of records, each durable (written and fsync'd) before `append` resolves: what a process
 * has answered survives a SIGKILL or a crash of the machine, and is replayed by the next process on the same spool.
 *
 * Records go to numbered segment files, framed as length (u32 LE) ‖ CRC-32 of the payload (u32 LE) ‖ payload.
 * Appends are group commits: what arrives in one turn of the event loop is written at its end with one write(2),
 * and one fdatasync covers everything written while the previous one ran, so many requests share one fsync. A
 * crash mid-append leaves a torn record at the end of the last segment: its length or checksum does not match, and
 * it is ignored (it was never acknowledged). A failed write is cut back off, so no torn record precedes good ones.
 *
 * Each record is `release`d once its effect is stored elsewhere; a segment whose records are all released, and
 * that is no longer being appended to, is deleted. One process owns a spool directory (a lock file names it): a
 * second live process on the same directory is refused, so each replays only its own spool.
 */
export class Spool {
  #active!: Segment;
  readonly #sealed = new Map<number, Segment>();
  /** Appended in this turn of the event loop: written together at its end. */
  #unwritten: Waiter[] = [];
  /** Written, waiting for the fdatasync that makes them durable. */
  #unsynced: Waiter[] = [];
  #syncing: Promise<void> | undefined;
  /** Descriptors of sealed segments, closed once the fdatasync in flight (which may use one) is done. */
  readonly #retired: number[] = [];
  #closed = false;

  private constructor(
    readonly dir: string,
    private readonly maxSegmentBytes: number,
  ) {}

  /** Opens (creating) the spool in `dir`, and returns the records a previous process left unreleased, oldest first. */
  static async open(dir: string, maxSegmentBytes = 4 * 1024 * 1024): Promise<{ spool: Spool; replay: { segment: number; payload: Buffer }[] }> {
    await mkdir(dir, { recursive: true });
    await lock(dir);
    const spool = new Spool(dir, maxSegmentBytes);
    const replay: { segment: number; payload: Buffer }[] = [];
    const numbers = (await readdir(dir))
      .map((name) => /^segment-(\d+)\.log$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const number of numbers) {
      const records = readRecords(await readFile(segmentPath(dir, number)));
      if (records.length === 0) await unlink(segmentPath(dir, number));
      else spool.#sealed.set(number, { number, fd: undefined, bytes: 0, unreleased: records.length });
      for (const payload of records) replay.push({ segment: number, payload });
    }
    spool.#active = spool.createSegment((numbers.at(-1) ?? 0) + 1);
    return { spool, replay };
  }

  /** Resolves with the record's segment once it is on disk (written and fdatasync'd). */
  append(payload: Buffer): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the spool is closed'));
    return new Promise((resolve, reject) => {
      if (this.#unwritten.length === 0) setImmediate(() => this.write());
      this.#unwritten.push({ payload, resolve, reject });
    });
  }

  /** The record (appended to `segment`) is stored elsewhere now: its segment may go once all of its records are. */
  release(segment: number): void {
    const owner = this.#active.number === segment ? this.#active : this.#sealed.get(segment);
    if (!owner) return;
    owner.unreleased--;
    if (owner !== this.#active && owner.unreleased <= 0) {
      this.#sealed.delete(segment);
      unlink(segmentPath(this.dir, segment)).catch(() => undefined); // a leftover segment only replays as duplicates, which are skipped
    }
  }

  /** Stops appending. Released segments are deleted; the lock, and the directory when empty, go too. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#unwritten.length > 0 || this.#syncing) await (this.#syncing ?? new Promise((resolve) => setImmediate(resolve)));
    closeSync(this.#active.fd!);
    if (this.#active.unreleased <= 0) await unlink(segmentPath(this.dir, this.#active.number));
    await unlink(join(this.dir, LOCK)).catch(() => undefined);
    held.delete(this.dir);
    await rmdir(this.dir).catch(() => undefined); // still holds unreleased segments: kept for the next process
  }

  /*
   * One write(2) for everything appended in a turn of the event loop (a few microseconds: the page cache), then
   * one fdatasync for everything written while the previous one ran: requests share both.
   */
  private write(): void {
    const group = this.#unwritten;
    this.#unwritten = [];
    try {
      if (this.#active.bytes >= this.maxSegmentBytes) this.rotate();
    } catch (error) {
      for (const waiter of group) waiter.reject(error);
      return;
    }
    const segment = this.#active;
    try {
      const buffer = Buffer.concat(group.flatMap(({ payload }) => [header(payload), payload]));
      // At explicit offsets: after a failed write is cut off, the next one starts where the good records end.
      for (let written = 0; written < buffer.length;) {
        written += writeSync(segment.fd!, buffer, written, buffer.length - written, segment.bytes + written);
      }
      segment.bytes += buffer.length;
      segment.unreleased += group.length;
      for (const waiter of group) waiter.segment = segment.number;
      this.#unsynced.push(...group);
      this.#syncing ??= this.sync();
    } catch (error) {
      // Disk full, an I/O error: whatever part of the group reached the file goes, so later records stay readable.
      try {
        ftruncateSync(segment.fd!, segment.bytes);
      } catch {
        // the next write fails the same way
      }
      for (const waiter of group) waiter.reject(error);
    }
  }

  private async sync(): Promise<void> {
    while (this.#unsynced.length > 0) {
      const group = this.#unsynced;
      this.#unsynced = [];
      try {
        await fdatasync(this.#active.fd!);
        for (const waiter of group) waiter.resolve(waiter.segment!);
      } catch (error) {
        for (const waiter of group) waiter.reject(error);
      }
      // A segment sealed during that fdatasync may have been its target: only now is its descriptor unused.
      for (const fd of this.#retired.splice(0)) closeSync(fd);
    }
    this.#syncing = undefined;
  }

  private rotate(): void {
    const old = this.#active;
    // What was written there is durable before it is sealed (once per segment: a few ms every few MB).
    fdatasyncSync(old.fd!);
    this.#active = this.createSegment(old.number + 1);
    if (this.#syncing) this.#retired.push(old.fd!);
    else closeSync(old.fd!);
    old.fd = undefined;
    if (old.unreleased <= 0) unlinkSync(segmentPath(this.dir, old.number));
    else this.#sealed.set(old.number, old);
  }

  private createSegment(number: number): Segment {
    const fd = openSync(segmentPath(this.dir, number), 'wx');
    // The new file's name must be durable too.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return { number, fd, bytes: 0, unreleased: 0 };
  }
}

interface Waiter {
  payload: Buffer;
  /** Set once written. */
  segment?: number;
  resolve: (segment: number) => void;
  reject: (error: unknown) => void;
}

interface Segment {
  number: number;
  /** Open while the segment is the one appended to. */
  fd: number | undefined;
  bytes: number;
  /** Records appended and not yet released. */
  unreleased: number;
}

const LOCK = 'owner.lock';
const HEADER_BYTES = 8;
/** Spool directories held by this process: a second app in one process (tests) must not share one either. */
const held = new Set<string>();

const fdatasync = promisify(fdatasyncCallback);

function segmentPath(dir: string, number: number): string {
  return join(dir, `segment-${String(number).padStart(12, '0')}.log`);
}

function header(payload: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES);
  bytes.writeUInt32LE(payload.length, 0);
  bytes.writeUInt32LE(crc32(payload), 4);
  return bytes;
}

/** The complete records of a segment; reading stops at the first torn or corrupt one. */
export function readRecords(data: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let at = 0; at + HEADER_BYTES <= data.length;) {
    const length = data.readUInt32LE(at);
    const end = at + HEADER_BYTES + length;
    if (end > data.length) break;
    const payload = data.subarray(at + HEADER_BYTES, end);
    if (crc32(payload) !== data.readUInt32LE(at + 4)) break;
    records.push(payload);
    at = end;
  }
  return records;
}

/** Takes the spool for this process; refused while another live process (or app in this one) holds it. */
async function lock(dir: string): Promise<void> {
  if (held.has(dir)) throw new Error(`the tracking spool ${dir} is already open in this process`);
  const path = join(dir, LOCK);
  const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new Error(`the tracking spool ${dir} belongs to the running process ${owner}: give each process its own TRACKING_SPOOL_DIR`);
  }
  const handle = await open(path, 'w');
  await handle.writeFile(String(process.pid));
  await handle.datasync();
  await handle.close();
  held.add(dir);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
