export interface ConfigIssue {
  variable: string;
  message: string;
}

/**
 * A bad environment value. The message names every offending variable, so an operator can fix
 * them all in one go instead of restarting once per typo.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  /** The first offending variable (there is always at least one). */
  readonly variable: string;

  constructor(readonly issues: ConfigIssue[]) {
    super(`Invalid configuration: ${issues.map((i) => `${i.variable} ${i.message}`).join('; ')}`);
    this.variable = issues[0]?.variable ?? '';
  }
}
