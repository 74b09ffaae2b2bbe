/**
 * Bundles: a cart's staged files served as one tarball (exact size, ETag and Range known
 * before the first byte) or as a zip. Nothing here knows about HTTP or the database.
 */
export { tarLayout, assertSafeBundle, FILE_MODE } from './layout';
export type { BundleFile, TarLayout, TarLayoutOptions, TarEntry, EntryBody } from './layout';
export { parseRange } from './range';
export type { ByteRange } from './range';
export { tarStream } from './tar-body';
export type { TarStreamOptions } from './tar-body';
export { SourceChangedError } from './file-slice';
export { zipStream } from './zip';
export type { ZipStreamOptions } from './zip';
export { buildManifests, manifestLine } from './manifest';
export type { Manifest, ManifestFile } from './manifest';
export { bundleRootName, contentDisposition, defaultTarName } from './names';
