// The detail of one approval: only the verified view. Verification status
// and operator fingerprint, every field (redacted ones as redacted, with
// their commitment), the rule and its matched conditions against the
// fields, target host, captured time; then reason, Approve and Reject. A
// refused item shows why, and offers no way to approve it. Values that look
// deceptive (mixed scripts, look-alike letters, hidden characters) are
// flagged where they stand; every value is isolated so it cannot reorder
// the text around it. A newly opened item takes focus on its title, never on
// Approve, and the A/R keys wait until it has been on screen for a moment.
import { api, DecisionResult, errorText, ItemDetail, ItemView, QuorumView } from "../api";
import { clear, h } from "../dom";
import { localTime, plainValue, timeLeft, verbLabel } from "../format";
import { toast } from "../toast";

/// How long an item must have been on screen before A or R decides it.
export const READ_BEFORE_KEYS_MS = 1500;

export class DetailPane {
  root = h("section", { class: "detail-pane", "data-testid": "detail" });
  private current: ItemDetail | null = null;
  private reason: HTMLTextAreaElement | null = null;
  private deciding = false;
  private requested: string | null = null;
  /// When the open item was first painted (for the keyboard's pause).
  private shownAt = 0;
  /// The key is in the system signer: each vote waits for the person at the
  /// system's own prompt, which the window says while it waits.
  signerPrompts = false;

  constructor() {
    this.placeholder("Select an approval to review it.");
  }

  /// Whether the open item has been on screen long enough to decide by key.
  keysReady(now = performance.now()): boolean {
    return this.current !== null && now - this.shownAt >= READ_BEFORE_KEYS_MS;
  }

  openHash(): string | null {
    return this.current && this.current.view && this.current.status === "pending" && !this.current.decided
      ? this.current.action_hash
      : null;
  }

  private placeholder(text: string) {
    clear(this.root, h("div", { class: "detail-empty muted" }, text));
  }

  /// The queue changed: an open item decided elsewhere is marked so.
  queueChanged(pending: Set<string>) {
    const open = this.current;
    if (open && open.status === "pending" && !pending.has(open.action_hash) && !this.deciding) {
      void this.show(open.action_hash);
    }
  }

  async show(hash: string) {
    this.requested = hash;
    this.root.dataset.actionHash = hash;
    if (this.current?.action_hash !== hash) this.placeholder("Verifying…");
    try {
      const detail = await api.item(hash);
      if (this.requested !== hash) return;
      const fresh = this.current?.action_hash !== hash;
      this.current = detail;
      this.render(detail);
      if (fresh) {
        this.shownAt = performance.now();
        // Focus the item, not a button: no single keystroke approves it.
        this.root.querySelector<HTMLElement>(".detail-title")?.focus();
      }
    } catch (e) {
      if (this.requested !== hash) return;
      this.current = null;
      clear(this.root, h("div", { class: "detail-empty error-text" }, errorText(e)));
    }
  }

  private render(d: ItemDetail) {
    const v = d.view;
    this.reason = null;
    if (!v) {
      clear(this.root,
        h("div", { class: "detail-scroll" },
          h("h2", { class: "detail-title" }, "This approval cannot be approved"),
          h("div", { class: "verify-box refused", "data-testid": "detail-status", "data-verified": "false", role: "alert" },
            h("strong", {}, "Refused: failed verification"),
            h("p", {}, d.refusal ?? "unknown reason"),
            h("p", { class: "muted small" }, "Nothing was signed. Tell your operator: the control plane sent something its operator did not sign as shown."),
          ),
          h("p", { class: "mono small muted" }, d.action_hash),
        ),
      );
      return;
    }
    const matched = new Map(v.matched_conditions.map((c) => [c.field, c]));
    clear(this.root,
      h("div", { class: "detail-scroll" },
        h("div", { class: "detail-head" },
          h("span", { class: `badge badge-${v.verb}` }, verbLabel(v.verb)),
          h("span", { class: `status-pill status-${d.status}`, "data-testid": "detail-state" }, d.decided ? `you ${d.decided}` : d.status),
          d.status === "pending" ? h("span", { class: "muted small", "data-testid": "detail-deadline" }, `${timeLeft(d.sla_deadline)}${deadlineSource(d)}`) : null,
          d.resolution === "expired" ? h("span", { class: "muted small" }, "expired: its deadline passed") : null,
        ),
        h("h2", { class: "detail-title", "data-testid": "detail-summary", tabindex: -1 }, v.summary),
        v.warnings.length
          ? h("div", { class: "warn-box", "data-testid": "detail-warnings", role: "alert" },
              h("strong", {}, "Look closely before deciding: "),
              h("ul", {}, v.warnings.map((w) => h("li", { class: "isolated" }, w))))
          : null,
        h("div", { class: "verify-box verified", "data-testid": "detail-status", "data-verified": "true", role: "status" },
          h("strong", {}, d.offline_copy ? "Verified (copy kept while offline)" : "Verified"),
          h("span", {}, " · signed by operator "),
          h("span", { class: "mono" }, v.operator_fingerprint),
          h("span", { class: "muted" }, " (pinned at enrolment)"),
        ),
        d.routing_note
          ? h("div", { class: "warn-box", "data-testid": "detail-routing-note", role: "note" },
              h("strong", {}, "From the control plane: "), h("span", { class: "isolated" }, d.routing_note))
          : null,
        v.quorum ? quorumBox(v.quorum) : null,
        h("div", { class: "rule-box", "data-testid": "detail-rule" },
          h("div", { class: "rule-display" }, v.rule_display),
          h("div", { class: "muted small mono" }, v.rule_id),
          v.matched_conditions.length
            ? h("ul", { class: "conditions" }, v.matched_conditions.map((c) =>
                h("li", {}, h("span", { class: "mono" }, c.field), ` ${c.op} `, h("span", { class: "mono" }, plainValue(c.value)))))
            : null,
        ),
        h("dl", { class: "facts" },
          fact("Tool", v.tool_name),
          fact("Target host", v.target_host ?? "—"),
          fact("Workflow", v.workflow),
          fact("Account", v.account),
          ...(d.groups.length ? fact("Routed to", d.groups.join(", ")) : []),
          fact("Captured", localTime(v.captured_at)),
          fact("Action", v.action_hash, "mono small"),
        ),
        h("h3", {}, "Fields"),
        fieldsTable(v, matched),
      ),
      this.actions(d, v),
    );
  }

  private actions(d: ItemDetail, v: ItemView): HTMLElement {
    if (d.decided || d.status !== "pending") {
      return h("div", { class: "decision-bar done" },
        d.decided ? decidedText(d) : `This approval is ${d.status}; nothing to decide.`);
    }
    this.reason = h("textarea", { "data-testid": "reason-input", rows: 2, maxlength: 2000, placeholder: "Reason (recorded and signed with your decision)" });
    const approve = h("button", { class: "approve", "data-testid": "approve-button", title: "Approve (A)", onclick: () => void this.decide("approve") }, "Approve");
    const reject = h("button", { class: "reject", "data-testid": "reject-button", title: "Reject (R)", onclick: () => void this.decide("reject") }, "Reject");
    const report = h("button", { class: "secondary", "data-testid": "report-button", title: "Reject it as suspicious and mute its workflow's notifications for an hour", onclick: () => void this.report() }, "Report suspicious");
    return h("div", { class: "decision-bar" },
      this.reason,
      h("div", { class: "decision-buttons" },
        h("span", { class: "muted small" }, `You sign: ${verbLabel(v.verb).toLowerCase()} · ${v.action_hash.slice(0, 12)}…`),
        report, reject, approve),
    );
  }

  /// Rejects the open item as suspicious (signed reason) and mutes its workflow.
  async report() {
    await this.settle((hash) => api.reportSuspicious(hash));
  }

  async decide(decision: "approve" | "reject") {
    await this.settle((hash) => api.decide(hash, decision, this.reason?.value ?? ""));
  }

  /// Runs one decision on the open, verified, pending item and shows the outcome.
  private async settle(send: (hash: string) => Promise<DecisionResult>) {
    const d = this.current;
    if (!d || !d.view || this.deciding || d.status !== "pending" || d.decided) return;
    this.deciding = true;
    this.root.querySelectorAll("button").forEach((b) => (b.disabled = true));
    const prompting = this.signerPrompts
      ? toast("Confirm at the system prompt: it shows what you sign and asks for your password.", "info")
      : () => {};
    try {
      const result = await send(d.action_hash);
      toast(result.message, result.outcome === "refused" ? "error" : result.outcome === "queued" ? "info" : "ok");
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      prompting();
      this.deciding = false;
      await this.show(d.action_hash);
    }
  }
}

/// This device's decision and where it stands with the control plane.
function decidedText(d: ItemDetail): string {
  if (d.delivery === "refused") return `This device ${d.decided} it, but the control plane refused the decision: ${d.delivery_note ?? "no reason given"}.`;
  if (d.delivery === "unsent") return `This device ${d.decided} it; the decision is kept and sent again until the control plane takes it${d.delivery_note ? ` (${d.delivery_note})` : ""}.`;
  const q = d.view?.quorum;
  if (q && d.status === "pending" && d.decided === "approved") {
    const more = Math.max(q.threshold - q.approvals, 0);
    return `This device approved it. Waiting for ${more} more ${more === 1 ? "approval" : "approvals"} (${q.approvals} of ${q.threshold}).`;
  }
  return `This device ${d.decided} it.`;
}

/// Whose deadline it is: the operator's signed one, or the control plane's.
function deadlineSource(d: ItemDetail): string {
  if (d.deadline_source === "signed") return " · deadline signed by the operator";
  if (d.deadline_source === "control_plane") return " · deadline set by the control plane";
  return "";
}

/// How many approvers must approve, how many have, and who.
function quorumBox(q: QuorumView): HTMLElement {
  return h("div", { class: "quorum-box", "data-testid": "detail-quorum", "data-approvals": String(q.approvals), "data-threshold": String(q.threshold) },
    h("strong", {}, `${q.approvals} of ${q.threshold} approvals`),
    h("span", {}, ` · ${q.line}`),
    q.approved_by.length
      ? h("ul", { class: "muted small mono" }, q.approved_by.map((f) => h("li", {}, `approved by ${f}`)))
      : null,
  );
}

function fact(name: string, value: string, cls = ""): HTMLElement[] {
  return [h("dt", {}, name), h("dd", { class: `isolated ${cls}` }, value)];
}

function fieldsTable(v: ItemView, matched: Map<string, { op: string; value: string }>): HTMLElement {
  return h("table", { class: "fields" },
    h("tbody", {}, v.fields.map((f) => {
      const condition = matched.get(f.name);
      const attrs: Record<string, string> = { class: [condition ? "matched" : "", f.warning ? "flagged" : ""].join(" ").trim(), "data-testid": "detail-field", "data-field": f.name };
      if (f.warning) attrs["data-warning"] = f.warning;
      return h("tr", attrs,
        h("th", { class: "isolated" }, f.name),
        h("td", {},
          f.redacted
            ? [h("span", { class: "badge badge-redacted" }, "Redacted"),
               f.commitment ? h("span", { class: "mono small muted commitment" }, ` commitment ${f.commitment}`) : h("span", { class: "muted small" }, " (dropped, no commitment)")]
            : h("span", { class: "field-value isolated" }, f.shown),
          f.warning ? h("span", { class: "field-warning", "data-testid": "field-warning" }, `⚠ ${f.warning}`) : null,
          condition ? h("span", { class: "matched-tag" }, `matched: ${condition.op} ${plainValue(condition.value)}`) : null,
        ),
      );
    })),
  );
}
