import 'server-only';

/**
 * Why the master keys cannot be used. Each cause is a fixed phrase an operator can act on; none
 * carries a PIN, a key, a path that holds one, or anything a token returned.
 */
export const keyProblems = {
  module_missing: 'the PKCS#11 module cannot be loaded',
  token_missing: 'the key token is not present or stopped answering',
  wrong_pin: 'the token refused the PIN',
  pin_locked: 'the token has locked its PIN',
  pin_missing: 'no PIN is configured for the token',
  pin_file_insecure: 'the PIN file is readable by others (it must be mode 0600)',
  key_version_missing: 'a master key version in use is not in the key store',
  store_uninitialised: 'the key store holds no master key yet',
  misconfigured: 'the key store configuration is incomplete',
} as const;

/** A key-store failure, or a wrapped data key that would not open (damaged, or another patient's). */
export type KeyAccessFailure = KeyProblem | 'unopenable';

export type KeyProblem = keyof typeof keyProblems;

/**
 * The key store cannot be used. Nothing falls back to another key: the portal refuses PHI with
 * a plain sentence, /api/health names the cause, and the log records it without secrets.
 */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
  constructor(
    readonly problem: KeyProblem,
    readonly version?: number,
  ) {
    super(
      version === undefined
        ? `Master keys unavailable: ${keyProblems[problem]}.`
        : `Master key version ${version} is not available (${keyProblems[problem]}).`,
    );
  }
}

/** What a viewer is told instead of the chart when the keys cannot be used. */
export const KEYS_UNAVAILABLE_MESSAGE =
  'Patient records are unavailable right now: the encryption keys cannot be reached. Nothing was shown or changed; the administrators have been told.';
