import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * Loads a broker's client library, an optional peer dependency that only its adapter needs. When
 * it is not installed, the error is a `CONFIG_INVALID` naming the packages to install.
 */
export async function importPeer<T>(publisher: string, packages: readonly string[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const names = packages.map((p) => `'${p}'`).join(' and ');
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the ${publisher} publisher needs the package${packages.length > 1 ? 's' : ''} ${names}: npm install ${packages.join(' ')}`,
      { cause },
    );
  }
}
