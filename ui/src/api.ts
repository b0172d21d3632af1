// Typed calls into the app's Rust side.
import { invoke } from "@tauri-apps/api/core";

// The types the Rust side sends, generated from its types (see bindings.ts).
import type {
  AuditEntry, AuditReceipt, DecisionResult, ItemDetail, QueuePayload, Settings, Status,
} from "./bindings";
export type {
  AuditEntry, AuditReceipt, ConditionView, DecisionResult, FieldView, ItemDetail, ItemView, NotificationSettings,
  Outcome, QueuePayload, QueueRow, QuorumView, Settings, Status,
} from "./bindings";

/// The control plane's roster as it answers (its JSON, passed through).
export interface RosterEntry {
  label: string;
  fingerprint: string;
  /// "enrolment" (a person redeemed a one-time code) or "operator" (registered with the org's API key).
  source: string;
  confirmed: boolean;
  revoked: boolean;
  you: boolean;
  /// Where the device said its key is held when it enrolled ("signer", "keychain"); null when not reported.
  protection: string | null;
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
  exportHistory: (format: "csv" | "jsonl") => invoke<{ path: string; count: number }>("export_history", { format }),
  auditReceipt: (actionHash: string) => invoke<AuditReceipt>("audit_receipt", { actionHash }),
  settings: () => invoke<Settings>("settings"),
  saveSettings: (settings: Settings) => invoke<Settings>("save_settings", { settings }),
  removeDevice: () => invoke<Status>("remove_device"),
  protectKey: (code: string) => invoke<Status>("protect_key", { code }),
  uiReady: () => invoke<void>("ui_ready"),
  itemPainted: (actionHash: string) => invoke<void>("item_painted", { actionHash }),
};

/// The message of a failed command, for a toast.
export function errorText(e: unknown): string {
  return typeof e === "string" ? e : e instanceof Error ? e.message : JSON.stringify(e);
}
