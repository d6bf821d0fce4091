/**
 * Inference request bodies, read into one buffer the request owns. With Triton's binary tensor
 * extension the tensors follow a JSON header of any length; the buffer starts a few bytes early so
 * that they land 8-byte aligned. Typed arrays then view them in place and the whole buffer can be
 * transferred to an inference worker: the HTTP thread copies each byte once (from the socket chunks).
 * A large body of known length goes into a pooled shared buffer instead of a new one (body-pool.ts),
 * which keeps the HTTP thread's garbage collections short under load.
 */
import { errorCodes, type FastifyRequest } from 'fastify';
import type { BodyPool } from './body-pool.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Hands a pooled body back; whoever takes the body's tensors on clears it and releases later. */
    releaseBody?: () => void;
  }
}

/**
 * `length` bytes `pad` bytes into an ArrayBuffer of their own. Not zeroed first (a large body's
 * zeroing cost as much as copying it in): every byte is written from the socket before the body is
 * used, and a body that arrives short is refused.
 */
function ownedBuffer(pad: number, length: number): Buffer {
  return Buffer.allocUnsafeSlow(pad + length).subarray(pad);
}

/**
 * Reads the request's body (already decompressed when Content-Encoding was set) into an owned buffer:
 * from `pool` when it is large and its length known (see body-pool.ts), with `req.releaseBody` set.
 */
export function readOwnedBody(req: FastifyRequest, payload: NodeJS.ReadableStream, limit: number, done: (err: Error | null, body?: Buffer) => void, pool?: BodyPool): void {
  const headerLength = Number(req.headers['inference-header-content-length']);
  const pad = Number.isSafeInteger(headerLength) && headerLength >= 0 ? (8 - (headerLength % 8)) % 8 : 0;
  // Content-Length sizes the buffer up front unless a decompressing stream changes the length.
  const declared = req.headers['content-encoding'] ? NaN : Number(req.headers['content-length']);
  if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const known = Number.isSafeInteger(declared) && declared >= 0;
  const pooled = known ? pool?.acquire(pad, declared) : undefined;
  if (pooled) req.releaseBody = pooled.release;
  const sized = pooled ? pooled.body : known ? ownedBuffer(pad, declared) : undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err: Error | null, body?: Buffer) => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    if (err) pooled?.release();
    done(err, body);
  };
  const onData = (chunk: Buffer | string) => {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (received + c.length > (sized?.length ?? limit)) {
      return finish(sized ? new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH() : new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    if (sized) c.copy(sized, received);
    else chunks.push(c);
    received += c.length;
  };
  const onEnd = () => {
    if (sized) return received === sized.length ? finish(null, sized) : finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    const body = ownedBuffer(pad, received);
    let at = 0;
    for (const c of chunks) at += c.copy(body, at);
    finish(null, body);
  };
  const onError = (err: Error & { statusCode?: number }) => {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
    finish(err);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}
