// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit.

/**
 * Where the app stands, for the first screen it shows.
 */
export type Status = { 
/**
 * `first_run`, `ready`, or `error`.
 */
stage: string, error: string | null, org: string | null, url: string | null, label: string | null, fingerprint: string | null, 
/**
 * The operator keys pinned at enrolment, as fingerprints a person
 * compares with what the operator shows (`heso-control-plane org show`).
 */
operator_fingerprints: Array<string>, demo: boolean, 
/**
 * Whether the device key is out of reach of the user's other programs
 * (held by the system signer), and that in words.
 */
key_protected: boolean, key_protection: string | null, 
/**
 * Whether a key in the keychain can be moved into a system signer
 * here (one answers on the system bus).
 */
can_protect: boolean, };

export type QueueRow = { action_hash: string, opened_at: string, sla_deadline: string, 
/**
 * Why the item was refused; the other fields are then empty.
 */
refusal: string | null, verb: string, tool: string, summary: string, 
/**
 * The facts a person decides on, e.g. amount, currency, payee.
 */
facts: Array<[string, string]>, workflow: string, account: string, rule_id: string, 
/**
 * The first thing about the item that looks deceptive, if anything does.
 */
warning: string | null, 
/**
 * For a k-of-n approval: "1 of 2 approvals".
 */
quorum: string | null, };

export type QueuePayload = { online: boolean, last_error: string | null, pending_total: number, loaded: boolean, rows: Array<QueueRow>, 
/**
 * When the app sent it (ms since the Unix epoch): the window measures delivery.
 */
sent_at_ms: number, };

export type FieldView = { name: string, 
/**
 * The value as canonical JSON text (what was signed).
 */
value: string, 
/**
 * The value as a person reads it (see [`display::shown_value`]).
 */
shown: string, 
/**
 * Why this value deserves a second look (mixed scripts, look-alike
 * letters, hidden or direction-changing characters).
 */
warning?: string, redacted: boolean, 
/**
 * The commitment of a commit-and-reveal redaction.
 */
commitment?: string, 
/**
 * A matched condition of the rule names this field.
 */
matched: boolean, };

export type ConditionView = { field: string, op: string, value: string, };

export type ItemView = { action_hash: string, verb: string, tool_name: string, target_host: string | null, workflow: string, account: string, captured_at: string, rule_id: string, rule_display: string, matched_conditions: Array<ConditionView>, operator_fingerprint: string, summary: string, fields: Array<FieldView>, 
/**
 * Every warning on the item, each naming where it applies
 * (`payee: …`, `workflow: …`); empty when nothing looks deceptive.
 */
warnings: Array<string>, 
/**
 * Set for a k-of-n approval.
 */
quorum: QuorumView | null, 
/**
 * The control plane's note when the org's policy routes the action by
 * another rule than the receipt names (not signed; shown inert).
 */
routing_note: string | null, };

/**
 * A k-of-n approval as a person reads it.
 */
export type QuorumView = { threshold: number, roster_size: number, approvals: number, 
/**
 * Who approved so far and when: label (the control plane's word) and fingerprint.
 */
approved_by: Array<string>, 
/**
 * Whether this device's vote is among them (as the control plane reports).
 */
you_voted: boolean, 
/**
 * "2 of 3 approvers must approve; 1 has", in words.
 */
line: string, };

/**
 * One approval as the detail screen shows it.
 */
export type ItemDetail = { action_hash: string, 
/**
 * `pending`, `approved`, `rejected`, `expired`, ... as the control plane says.
 */
status: string, sla_deadline: string, 
/**
 * Shown from the copy verified earlier because the control plane is away.
 */
offline_copy: boolean, view: ItemView | null, 
/**
 * Why it cannot be approved.
 */
refusal: string | null, 
/**
 * This device's decision on it, if any.
 */
decided: string | null, 
/**
 * Where that decision stands: `confirmed`, `unsent` (sent again until
 * the control plane takes it) or `refused` (for good).
 */
delivery: string | null, 
/**
 * Why it is unsent or was refused.
 */
delivery_note: string | null, 
/**
 * `signed` (the operator's deadline), `control_plane`, or empty.
 */
deadline_source: string, 
/**
 * The approver groups the control plane routed it to.
 */
groups: Array<string>, 
/**
 * The control plane's note when the org's policy and the receipt disagree.
 */
routing_note: string | null, 
/**
 * `expired` when the deadline rejected it.
 */
resolution: string | null, };

export type Outcome = "confirmed" | "queued" | "refused";

export type DecisionResult = { outcome: Outcome, message: string, };

export type AuditEntry = { action_hash: string, decision: string, decided_at: string, 
/**
 * `confirmed`, `unsent`, `refused`, or `not in this device's journal`.
 */
submission: string, 
/**
 * The offline check of the final receipt.
 */
verification: string, 
/**
 * The final receipt verified `Valid` at `L1` with this device as approver.
 */
verified: boolean, 
/**
 * Set when something was signed in this approver's name that this device did not make.
 */
alert?: string, 
/**
 * Rejected with "Report suspicious": the agent's request looked like an attack.
 */
reported: boolean, 
/**
 * What was decided, e.g. `Pay 4,200 USD to Globex LLC`: from the copy this
 * device verified when deciding or, for a decision it did not journal, the
 * verified final receipt. `None` when neither is at hand.
 */
summary?: string, 
/**
 * `payment`, `delete`, … (empty with no summary).
 */
verb: string, tool: string, rule_id: string, 
/**
 * The rule's sentence, e.g. "Payments over 1,000 need approval".
 */
rule_display: string, 
/**
 * The reason signed with the decision.
 */
reason: string, 
/**
 * Fingerprints of the other approvers on a verified quorum receipt.
 */
cosigners: Array<string>, };

/**
 * The signed bytes behind an audit entry, for a person to read: the final
 * receipt when there is one, otherwise the suspended receipt this device
 * verified and decided on.
 */
export type AuditReceipt = { 
/**
 * `final` or `suspended (as this device verified it)`.
 */
which: string, 
/**
 * The receipt, pretty-printed JSON (text only: the window never parses it as markup).
 */
json: string, };

export type NotificationSettings = { enabled: boolean, 
/**
 * Per verb: may it be approved straight from a notification (off by
 * default for deletes, data exports and kinds the app does not know).
 */
approve_from_notification: { [key in string]: boolean }, 
/**
 * Per currency code: payments above this amount always need the app.
 * A payment in a currency not listed here always needs the app too.
 */
payment_limits: { [key in string]: number }, 
/**
 * Workflows whose notifications are muted, until a Unix time: set by
 * "Report suspicious", so a flooding agent stops drawing clicks.
 */
muted_workflows: { [key in string]: number }, };

export type Settings = { 
/**
 * Long-poll the control plane (changes show at once); off: poll every `poll_interval_secs`.
 */
long_poll: boolean, poll_interval_secs: number, notifications: NotificationSettings, 
/**
 * Closing the window keeps the app running in the tray (notifications keep coming).
 */
run_in_background: boolean, 
/**
 * Start (in the background) when the user logs in.
 */
start_at_login: boolean, 
/**
 * The profile is enrolled with the embedded demo control plane.
 */
demo: boolean, };
