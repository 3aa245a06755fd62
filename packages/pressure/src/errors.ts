/**
 * The kit's errors: a setting that cannot be honoured (the CLI turns it into exit 2) and a
 * kernel capability that is missing (root, ip, nft, tc). Each has a stable `name`.
 */
export class InvalidSettingError extends Error {
  override readonly name = 'InvalidSettingError'
}

export class LanUnavailableError extends Error {
  override readonly name = 'LanUnavailableError'
}
