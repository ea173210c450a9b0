import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * Loads a broker's client library, an optional peer dependency that only its adapter needs. When
 * it is not installed, the error is a `CONFIG_INVALID` naming the packages to install. `role` says
 * which side of the broker asked, for the message (`the nats subscriber needs ...`).
 */
export async function importPeer<T>(
  broker: string,
  packages: readonly string[],
  load: () => Promise<T>,
  role: 'publisher' | 'subscriber' = 'publisher',
): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    const names = packages.map((p) => `'${p}'`).join(' and ');
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the ${broker} ${role} needs the package${packages.length > 1 ? 's' : ''} ${names}: npm install ${packages.join(' ')}`,
      { cause },
    );
  }
}
