// The cursor of a page of messages, in the form Summer's wide tables hand
// out, so both serve the same `next_cursor`: a version byte, 8 bytes of a
// SHA-256 over the table, scan order and partition, then the last row's
// clustering key in an order-preserving encoding, as unpadded base64url.

import { createHash } from 'node:crypto';

const VERSION = 1;
const DESCENDING = 1;
const SIGN = 1n << 63n;

export const MESSAGES_TABLE = 'summer_trip__messages';

function uuidBytes(id: string): Buffer {
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function timestampBytes(micros: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt.asUintN(64, micros) ^ SIGN);
  return bytes;
}

/// The cursor of a newest-first scan of `conversationId` after the message
/// (`sentAt`, `id`).
export function messagesCursor(conversationId: string, sentAt: bigint, id: string): string {
  const scope = createHash('sha256')
    .update(MESSAGES_TABLE)
    .update(Buffer.from([0, DESCENDING]))
    .update(uuidBytes(conversationId))
    .digest()
    .subarray(0, 8);
  return Buffer.concat([Buffer.from([VERSION]), scope, timestampBytes(sentAt), uuidBytes(id)]).toString(
    'base64url',
  );
}
