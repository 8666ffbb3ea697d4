import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './config-error';

/**
 * Reads environment variables through zod schemas and collects every problem before failing, so
 * one start-up attempt reports all of them. An empty value counts as unset: compose files and
 * Helm charts often render `FOO=` for "no value".
 */
export class EnvReader {
  private readonly issues: ConfigIssue[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  read<T>(variable: string, schema: z.ZodType<T, string>, fallback: T, opts: { secret?: boolean } = {}): T {
    const raw = this.env[variable];
    if (raw === undefined || raw.trim() === '') return fallback;
    const parsed = schema.safeParse(raw.trim());
    if (parsed.success) return parsed.data;
    const why = parsed.error.issues[0]?.message ?? 'is invalid';
    // Secrets (API keys, URLs with passwords) are never echoed into logs.
    const got = opts.secret ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
    this.issues.push({ variable, message: `${why}${got}` });
    return fallback;
  }

  /** Records a problem found across variables (e.g. one required only when another is set). */
  report(variable: string, message: string): void {
    this.issues.push({ variable, message });
  }

  /** Throws one ConfigError naming every variable that failed to parse. */
  throwIfInvalid(): void {
    if (this.issues.length > 0) throw new ConfigError([...this.issues]);
  }
}
