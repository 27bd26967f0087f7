/**
 * For the marketplace's session and token issuers: is a credential (a session, a JWT, a refresh
 * token) still valid after password changes? ASVS 5.0 7.4.1 and 7.4.3: credentials issued before
 * the last password change, or stamped with an older credentialVersion, are rejected.
 */
export interface UserCredentialState {
  /** ISO 8601, as the reset writes it to the users table. Absent: the password never changed. */
  passwordChangedAt?: string | Date | undefined;
  /** Incremented by every password change. Absent counts as 0. */
  credentialVersion?: number | undefined;
}

export interface CredentialCheckOptions {
  /** The credentialVersion stamped into the credential when it was issued, if the issuer stamps one. */
  credentialVersion?: number | undefined;
}

/**
 * True when a credential issued at `issuedAt` is still current for `user`. It fails closed: an
 * invalid date is never current. Times compare at whole seconds, because a JWT's `iat` has
 * one-second resolution: a session issued in the same second as the change is accepted, and only
 * a stamped credentialVersion tells those apart (so stamp it when you can).
 */
export function isCredentialCurrent(
  issuedAt: Date,
  user: UserCredentialState,
  options: CredentialCheckOptions = {},
): boolean {
  const issued = issuedAt.getTime();
  if (!Number.isFinite(issued)) return false;
  if (options.credentialVersion !== undefined) {
    const current = user.credentialVersion ?? 0;
    if (!Number.isInteger(options.credentialVersion) || options.credentialVersion !== current) return false;
  }
  if (user.passwordChangedAt === undefined) return true;
  const changed = new Date(user.passwordChangedAt).getTime();
  if (!Number.isFinite(changed)) return false;
  return Math.floor(issued / 1000) >= Math.floor(changed / 1000);
}
