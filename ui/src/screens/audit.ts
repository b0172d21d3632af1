// Audit: every co-signature made in this approver's name, from the journal
// and the control plane, each final receipt verified offline. Alerts (a
// co-signature this device did not make) come first.
import { api, AuditEntry, errorText } from "../api";
import { clear, h } from "../dom";
import { localTime, shortHash } from "../format";
import { toast } from "../toast";

export async function renderAudit(into: HTMLElement) {
  const list = h("div", { class: "audit-list" }, h("p", { class: "muted" }, "Checking every final receipt…"));
  const exportButton = h("button", { class: "secondary", "data-testid": "export-button" }, "Export verified receipts");
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    try {
      const done = await api.exportReceipts();
      toast(`Exported ${done.count} verified receipt(s) to ${done.path}`, "ok");
    } catch (e) {
      toast(errorText(e), "error");
    } finally {
      exportButton.disabled = false;
    }
  });
  const banner = h("div", {});
  clear(into,
    h("div", { class: "page" },
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, "Audit"), h("p", { class: "muted" }, "Every co-signature made with this approver's key, and whether its final receipt verifies.")),
        exportButton,
      ),
      banner,
      list,
    ),
  );
  try {
    const audit = await api.audit();
    if (audit.alerts > 0) {
      clear(banner, h("div", { class: "alert-banner", "data-testid": "audit-alert" },
        h("strong", {}, `${audit.alerts} co-signature(s) signed in your name, not by this device.`),
        " Your key may be in use elsewhere: remove this device and tell your operator."));
    }
    clear(list, audit.entries.length ? audit.entries.map(entryRow) : h("p", { class: "muted" }, "No decisions yet."));
  } catch (e) {
    clear(list, h("p", { class: "error-text" }, errorText(e)));
  }
}

function entryRow(e: AuditEntry): HTMLElement {
  return h("div", { class: `audit-item${e.alert ? " alert" : ""}`, "data-testid": "audit-item", "data-action-hash": e.action_hash },
    h("span", { class: `decision decision-${e.decision}` }, e.decision),
    h("div", { class: "audit-main" },
      h("div", { class: "mono", title: e.action_hash }, shortHash(e.action_hash)),
      h("div", { class: "muted small" }, `${localTime(e.decided_at)} · submission ${e.submission}`),
      e.alert ? h("div", { class: "error-text small" }, e.alert) : null,
      e.reported ? h("div", { class: "small reported-tag", "data-testid": "audit-reported" }, "Reported as suspicious") : null,
    ),
    h("div", { class: `verification ${e.verified ? "ok" : "pending"}`, "data-testid": "audit-verification" },
      e.verified ? "✓ " : "", e.verification),
  );
}
