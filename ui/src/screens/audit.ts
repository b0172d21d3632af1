// Audit: every co-signature made in this approver's name, read as a history:
// what was decided (the summary, verb, rule and reason, and for a quorum who
// else signed), filtered by decision, verb, text and date, each with its
// signed receipt to open, and exports. Alerts (a co-signature this device did
// not make) come first. Final receipts are verified offline on the Rust side.
import { api, AuditEntry, errorText } from "../api";
import { clear, h } from "../dom";
import { localTime, shortHash, verbLabel } from "../format";
import { toast } from "../toast";

interface Filter {
  decision: string;
  verb: string;
  text: string;
  from: string;
  to: string;
}

export async function renderAudit(into: HTMLElement) {
  const list = h("div", { class: "audit-list", "data-testid": "audit-list" }, h("p", { class: "muted" }, "Checking every final receipt…"));
  const count = h("p", { class: "muted small", role: "status", "data-testid": "audit-count" });
  const banner = h("div", {});
  const filter: Filter = { decision: "", verb: "", text: "", from: "", to: "" };
  const decision = h("select", { "aria-label": "Filter by decision", "data-testid": "audit-filter-decision" },
    h("option", { value: "" }, "All decisions"), h("option", { value: "approved" }, "Approved"), h("option", { value: "rejected" }, "Rejected"));
  const verb = h("select", { "aria-label": "Filter by verb", "data-testid": "audit-filter-verb" }, h("option", { value: "" }, "All verbs"));
  const text = h("input", { type: "search", placeholder: "Filter: payee, rule, reason…", "aria-label": "Filter by text", "data-testid": "audit-filter-text", spellcheck: "false" });
  const from = h("input", { type: "date", "aria-label": "Decided on or after", "data-testid": "audit-filter-from" });
  const to = h("input", { type: "date", "aria-label": "Decided on or before", "data-testid": "audit-filter-to" });
  let entries: AuditEntry[] = [];
  const show = () => {
    const shown = entries.filter((e) => matches(e, filter));
    count.textContent = entries.length ? `${shown.length} of ${entries.length} decisions` : "";
    clear(list, entries.length === 0
      ? h("p", { class: "muted" }, "No decisions yet.")
      : shown.length === 0 ? h("p", { class: "muted" }, "No decision matches the filter.") : shown.map(entryRow));
  };
  decision.addEventListener("change", () => { filter.decision = decision.value; show(); });
  verb.addEventListener("change", () => { filter.verb = verb.value; show(); });
  text.addEventListener("input", () => { filter.text = text.value.toLowerCase(); show(); });
  from.addEventListener("change", () => { filter.from = from.value; show(); });
  to.addEventListener("change", () => { filter.to = to.value; show(); });

  clear(into,
    h("div", { class: "page" },
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, "Audit"), h("p", { class: "muted" }, "Every decision signed with this approver's key, and whether its final receipt verifies.")),
        h("div", { class: "export-buttons" },
          exportButton("Export verified receipts", "export-button", () => api.exportReceipts(), "verified receipt(s)"),
          exportButton("History as CSV", "export-history-csv", () => api.exportHistory("csv"), "decision(s)"),
          exportButton("History as JSON lines", "export-history-jsonl", () => api.exportHistory("jsonl"), "decision(s)"),
        ),
      ),
      banner,
      h("div", { class: "filters audit-filters" }, decision, verb, text,
        h("label", { class: "inline small" }, "From", from), h("label", { class: "inline small" }, "To", to)),
      count,
      list,
    ),
  );
  try {
    const audit = await api.audit();
    entries = audit.entries;
    if (audit.alerts > 0) {
      clear(banner, h("div", { class: "alert-banner", role: "alert", "data-testid": "audit-alert" },
        h("strong", {}, `${audit.alerts} co-signature(s) signed in your name, not by this device.`),
        " Your key may be in use elsewhere: remove this device and tell your operator."));
    }
    const verbs = [...new Set(entries.map((e) => e.verb).filter(Boolean))].sort();
    verb.append(...verbs.map((v) => h("option", { value: v }, verbLabel(v))));
    show();
  } catch (e) {
    clear(list, h("p", { class: "error-text" }, errorText(e)));
  }
}

function exportButton(label: string, testId: string, run: () => Promise<{ path: string; count: number }>, what: string) {
  const button = h("button", { class: "secondary", "data-testid": testId }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const done = await run();
      toast(`Exported ${done.count} ${what} to ${done.path}`, "ok");
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function matches(e: AuditEntry, f: Filter): boolean {
  if (f.decision && e.decision !== f.decision) return false;
  if (f.verb && e.verb !== f.verb) return false;
  // The dates a person picks are local days; decided_at is RFC 3339.
  const day = localDay(e.decided_at);
  if (f.from && day < f.from) return false;
  if (f.to && day > f.to) return false;
  if (!f.text) return true;
  const haystack = [e.summary ?? "", e.tool, e.rule_id, e.rule_display, e.reason, e.action_hash, ...e.cosigners].join(" ").toLowerCase();
  return haystack.includes(f.text);
}

function localDay(text: string): string {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

function entryRow(e: AuditEntry): HTMLElement {
  const receipt = h("details", { class: "audit-receipt", "data-testid": "audit-receipt" },
    h("summary", {}, "Signed receipt"));
  receipt.addEventListener("toggle", async () => {
    if (!receipt.open || receipt.dataset.loaded) return;
    receipt.dataset.loaded = "1";
    try {
      const signed = await api.auditReceipt(e.action_hash);
      receipt.append(
        h("p", { class: "muted small" }, `The ${signed.which} receipt, as signed:`),
        h("pre", { class: "mono receipt-json", "data-testid": "audit-receipt-json", tabindex: 0 }, signed.json));
    } catch (err) {
      receipt.append(h("p", { class: "error-text small" }, errorText(err)));
    }
  });
  return h("article", { class: `audit-item${e.alert ? " alert" : ""}`, "data-testid": "audit-item", "data-action-hash": e.action_hash,
    "aria-label": `${e.decision}: ${e.summary ?? "unknown action"}` },
    h("span", { class: `decision decision-${e.decision}` }, e.decision),
    h("div", { class: "audit-main" },
      h("div", { class: "audit-summary isolated" },
        e.verb ? h("span", { class: `badge badge-${e.verb}` }, verbLabel(e.verb)) : null, " ",
        h("strong", { "data-testid": "audit-summary" }, e.summary ?? "No verified copy of this action on this device")),
      e.rule_id ? h("div", { class: "small isolated", "data-testid": "audit-rule" }, e.rule_display, " ", h("span", { class: "muted mono" }, `(${e.rule_id})`)) : null,
      e.reason ? h("div", { class: "small isolated", "data-testid": "audit-reason" }, h("span", { class: "muted" }, "Reason: "), e.reason) : null,
      e.cosigners.length ? h("div", { class: "small", "data-testid": "audit-cosigners" }, h("span", { class: "muted" }, "Also signed by: "), h("span", { class: "mono" }, e.cosigners.join(", "))) : null,
      h("div", { class: "muted small" }, `${localTime(e.decided_at)} · submission ${e.submission} · `, h("span", { class: "mono", title: e.action_hash }, shortHash(e.action_hash))),
      e.alert ? h("div", { class: "error-text small" }, e.alert) : null,
      e.reported ? h("div", { class: "small reported-tag", "data-testid": "audit-reported" }, "Reported as suspicious") : null,
      receipt,
    ),
    h("div", { class: `verification ${e.verified ? "ok" : "pending"}`, "data-testid": "audit-verification" },
      e.verified ? "✓ " : "", e.verification),
  );
}
