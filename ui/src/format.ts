// Small text helpers shared by the screens.

const VERB_LABELS: Record<string, string> = {
  payment: "Payment",
  delete: "Delete",
  data_export: "Data export",
  llm_call: "Model call",
  message: "Message",
  other: "Other",
};

/// The order verbs are listed in.
export const VERB_ORDER = ["payment", "delete", "data_export", "llm_call", "message", "other"];

export function verbLabel(verb: string): string {
  return VERB_LABELS[verb] ?? verb.replace(/_/g, " ");
}

/// "12 min left", "SLA passed 3 min ago", or "" when there is no deadline.
export function timeLeft(deadline: string, now = Date.now()): string {
  const at = Date.parse(deadline);
  if (Number.isNaN(at)) return "";
  const minutes = Math.round((at - now) / 60000);
  if (minutes < 0) return `SLA passed ${-minutes} min ago`;
  if (minutes < 60) return `${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min left`;
}

export function isUrgent(deadline: string, now = Date.now()): boolean {
  const at = Date.parse(deadline);
  return !Number.isNaN(at) && at - now < 10 * 60000;
}

export function shortHash(hash: string): string {
  return `${hash.slice(0, 10)}…${hash.slice(-6)}`;
}

export function localTime(text: string): string {
  const at = Date.parse(text);
  if (Number.isNaN(at)) return text;
  return new Date(at).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/// A field's canonical JSON as plain text: strings without their quotes.
export function plainValue(canonical: string): string {
  try {
    const value: unknown = JSON.parse(canonical);
    return typeof value === "string" ? value : canonical;
  } catch {
    return canonical;
  }
}
