/**
 * The per-company deliverability guard's levels (src/delivery/guard/), parsed from the environment for config.ts.
 * Rates are fractions of the sends (0.04 is 4%). Validated: 0 < warning < pause <= 1 for each rate; a window with
 * fewer than `minimumSends` sends never triggers anything.
 */
export interface DeliverabilityLevels {
  readonly warningBounceRate: number;
  readonly warningComplaintRate: number;
  readonly pauseBounceRate: number;
  readonly pauseComplaintRate: number;
  readonly minimumSends: number;
}

type ParseInteger = (raw: string | undefined, fallback: number, name: string, problems: string[], min: number, max?: number) => number;

/** Defaults below SES's own review (5% / 0.1%) and pause (10% / 0.5%) levels, so one tenant is stopped before the account is. */
export function deliverabilityLevels(env: NodeJS.ProcessEnv, problems: string[], parseInteger: ParseInteger): DeliverabilityLevels {
  const rate = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (Number.isFinite(value) && value > 0 && value <= 1) return value;
    problems.push(`${name} must be a fraction above 0 and at most 1, e.g. 0.04 for 4% (got "${raw}")`);
    return fallback;
  };
  const levels = {
    warningBounceRate: rate('DELIVERABILITY_WARNING_BOUNCE_RATE', 0.04),
    warningComplaintRate: rate('DELIVERABILITY_WARNING_COMPLAINT_RATE', 0.0008),
    pauseBounceRate: rate('DELIVERABILITY_PAUSE_BOUNCE_RATE', 0.08),
    pauseComplaintRate: rate('DELIVERABILITY_PAUSE_COMPLAINT_RATE', 0.003),
    minimumSends: parseInteger(env.DELIVERABILITY_MINIMUM_SENDS, 200, 'DELIVERABILITY_MINIMUM_SENDS', problems, 1, 1_000_000_000),
  };
  for (const kind of ['BOUNCE', 'COMPLAINT'] as const) {
    const [warning, pause] = kind === 'BOUNCE' ? [levels.warningBounceRate, levels.pauseBounceRate] : [levels.warningComplaintRate, levels.pauseComplaintRate];
    if (warning >= pause) problems.push(`DELIVERABILITY_WARNING_${kind}_RATE (${warning}) must be below DELIVERABILITY_PAUSE_${kind}_RATE (${pause})`);
  }
  return levels;
}
