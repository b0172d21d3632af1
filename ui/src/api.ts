// Typed calls into the app's Rust side.
import { invoke } from "@tauri-apps/api/core";

export interface Status {
  stage: "first_run" | "ready" | "error";
  error: string | null;
  org: string | null;
  url: string | null;
  label: string | null;
  fingerprint: string | null;
  operator_fingerprints: string[];
  demo: boolean;
}

export interface QueueRow {
  action_hash: string;
  opened_at: string;
  sla_deadline: string;
  refusal: string | null;
  verb: string;
  tool: string;
  summary: string;
  facts: [string, string][];
  workflow: string;
  account: string;
  rule_id: string;
  /// The first thing about the item that looks deceptive, if anything does.
  warning: string | null;
  /// For a k-of-n approval: "1 of 2 approvals".
  quorum: string | null;
}

export interface QueuePayload {
  online: boolean;
  last_error: string | null;
  pending_total: number;
  loaded: boolean;
  rows: QueueRow[];
  sent_at_ms: number;
}

export interface FieldView {
  name: string;
  /// The canonical JSON that was signed.
  value: string;
  /// The value as a person reads it: hidden characters written out.
  shown: string;
  /// Why this value deserves a second look (mixed scripts, look-alikes, hidden characters).
  warning?: string;
  redacted: boolean;
  commitment?: string;
  matched: boolean;
}

export interface ItemView {
  action_hash: string;
  verb: string;
  tool_name: string;
  target_host: string | null;
  workflow: string;
  account: string;
  captured_at: string;
  rule_id: string;
  rule_display: string;
  matched_conditions: { field: string; op: string; value: string }[];
  operator_fingerprint: string;
  summary: string;
  fields: FieldView[];
  warnings: string[];
  quorum: QuorumView | null;
}

/// A k-of-n approval: how many must approve, who has.
export interface QuorumView {
  threshold: number;
  roster_size: number;
  approvals: number;
  approved_by: string[];
  you_voted: boolean;
  line: string;
}

export interface ItemDetail {
  action_hash: string;
  status: string;
  sla_deadline: string;
  offline_copy: boolean;
  view: ItemView | null;
  refusal: string | null;
  decided: string | null;
  delivery: "confirmed" | "unsent" | "refused" | null;
  delivery_note: string | null;
  deadline_source: "signed" | "control_plane" | "";
  groups: string[];
  routing_note: string | null;
  resolution: string | null;
}

export interface DecisionResult {
  outcome: "confirmed" | "queued" | "refused";
  message: string;
}

export interface AuditEntry {
  action_hash: string;
  decision: string;
  decided_at: string;
  submission: string;
  verification: string;
  verified: boolean;
  alert?: string;
  reported: boolean;
}

export interface RosterEntry {
  label: string;
  fingerprint: string;
  /// "enrolment" (a person redeemed a one-time code) or "operator" (registered with the org's API key).
  source: string;
  confirmed: boolean;
  revoked: boolean;
  you: boolean;
}

export interface Settings {
  long_poll: boolean;
  poll_interval_secs: number;
  notifications: {
    enabled: boolean;
    approve_from_notification: Record<string, boolean>;
    payment_limits: Record<string, number>;
    muted_workflows: Record<string, number>;
  };
  run_in_background: boolean;
  start_at_login: boolean;
  demo: boolean;
}

export const api = {
  status: () => invoke<Status>("status"),
  enrol: (url: string, code: string, label: string) => invoke<Status>("enrol", { url, code, label }),
  startDemo: () => invoke<Status>("start_demo"),
  queue: () => invoke<QueuePayload>("queue"),
  item: (actionHash: string) => invoke<ItemDetail>("item", { actionHash }),
  decide: (actionHash: string, decision: "approve" | "reject", reason: string) =>
    invoke<DecisionResult>("decide", { actionHash, decision, reason }),
  reportSuspicious: (actionHash: string) => invoke<DecisionResult>("report_suspicious", { actionHash }),
  roster: () => invoke<{ org: string; items: RosterEntry[] }>("roster"),
  audit: () => invoke<{ entries: AuditEntry[]; alerts: number }>("audit"),
  exportReceipts: () => invoke<{ path: string; count: number }>("export_receipts"),
  settings: () => invoke<Settings>("settings"),
  saveSettings: (settings: Settings) => invoke<Settings>("save_settings", { settings }),
  removeDevice: () => invoke<Status>("remove_device"),
  uiReady: () => invoke<void>("ui_ready"),
  itemPainted: (actionHash: string) => invoke<void>("item_painted", { actionHash }),
};

/// The message of a failed command, for a toast.
export function errorText(e: unknown): string {
  return typeof e === "string" ? e : e instanceof Error ? e.message : JSON.stringify(e);
}
