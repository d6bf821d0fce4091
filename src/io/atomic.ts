import * as fs from 'node:fs';
import * as path from 'node:path';

/** Largest single read or write: Node refuses one of 2 GiB or more, and tensors can be bigger. */
export const IO_CHUNK = 1 << 30;

/**
 * Writes chunks to `file` through a temporary file in the same folder, renamed into place once
 * complete: readers never see a half-written file, and a failure leaves nothing behind.
 */
export function writeFileAtomic(file: string, chunks: Uint8Array[] | Uint8Array | string): void {
  writeFilesAtomic([{ file, chunks }]);
}

/**
 * Writes several files that belong together (a model and its external data): all are written to
 * temporary files first and renamed into place one right after the other, so a failure while
 * writing leaves the old pair intact rather than a new data file beside an old model.
 */
export function writeFilesAtomic(files: { file: string; chunks: Uint8Array[] | Uint8Array | string }[]): void {
  const written: { tmp: string; file: string }[] = [];
  try {
    for (const { file, chunks } of files) written.push({ tmp: writeTemp(file, chunks), file });
  } catch (e) {
    for (const w of written) fs.rmSync(w.tmp, { force: true });
    throw e;
  }
  for (const w of written) fs.renameSync(w.tmp, w.file);
}

/** Writes and fsyncs a temporary file beside `file`; returns its path (removed again on failure). */
function writeTemp(file: string, chunks: Uint8Array[] | Uint8Array | string): string {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const list = typeof chunks === 'string' ? [Buffer.from(chunks)] : Array.isArray(chunks) ? chunks : [chunks];
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    for (const c of list) {
      let done = 0;
      while (done < c.byteLength) done += fs.writeSync(fd, c, done, Math.min(c.byteLength - done, IO_CHUNK));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    return tmp;
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function concatChunks(chunks: Uint8Array[], size = chunks.reduce((n, c) => n + c.byteLength, 0)): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
