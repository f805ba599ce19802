/** Base of ipgate's own errors: `code` is stable and safe to match on. */
export class IpgateError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One or more settings are invalid; `problems` has one line per variable. */
export class ConfigError extends IpgateError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('ERR_CONFIG', problems.join('\n'));
    this.problems = problems;
  }
}

/** Redis did not answer in time or refused the command; the cause says which. */
export class StoreUnavailableError extends IpgateError {
  constructor(cause: unknown) {
    super('ERR_STORE_UNAVAILABLE', 'grant store unavailable', { cause });
  }
}
