/**
 * The digest names a cart may name in `hashtype`: the ones Python's hashlib accepts
 * (the reference validates through it), mapped to Node's crypto names and hex lengths.
 */
export interface DigestKind {
  readonly name: string;
  readonly nodeName: string;
  readonly hexLength: number;
}

const KINDS: readonly DigestKind[] = [
  { name: 'md5', nodeName: 'md5', hexLength: 32 },
  { name: 'sha1', nodeName: 'sha1', hexLength: 40 },
  { name: 'sha224', nodeName: 'sha224', hexLength: 56 },
  { name: 'sha256', nodeName: 'sha256', hexLength: 64 },
  { name: 'sha384', nodeName: 'sha384', hexLength: 96 },
  { name: 'sha512', nodeName: 'sha512', hexLength: 128 },
  { name: 'sha512_224', nodeName: 'sha512-224', hexLength: 56 },
  { name: 'sha512_256', nodeName: 'sha512-256', hexLength: 64 },
  { name: 'sha3_224', nodeName: 'sha3-224', hexLength: 56 },
  { name: 'sha3_256', nodeName: 'sha3-256', hexLength: 64 },
  { name: 'sha3_384', nodeName: 'sha3-384', hexLength: 96 },
  { name: 'sha3_512', nodeName: 'sha3-512', hexLength: 128 },
  { name: 'blake2b', nodeName: 'blake2b512', hexLength: 128 },
  { name: 'blake2s', nodeName: 'blake2s256', hexLength: 64 },
];

const BY_NAME = new Map(KINDS.map((k) => [k.name, k]));

/** hashlib is case-insensitive and takes `sha3-256` as well as `sha3_256`. */
export function findDigest(hashtype: string): DigestKind | undefined {
  return BY_NAME.get(hashtype.toLowerCase().replace(/-/g, '_'));
}

export const DIGEST_NAMES: readonly string[] = KINDS.map((k) => k.name);
