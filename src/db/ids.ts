import { randomBytes } from 'node:crypto';

/**
 * UUIDv7: time-ordered, so inserts land at the right edge of B-tree indexes instead of scattering pages
 * (it matters at millions of emails), while 74 random bits keep ids unguessable.
 */
export function uuidv7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids arrive as GraphQL `ID` strings; anything that is not a UUID cannot name a row. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
