// The queue: pending approvals newest first, filtered by verb and text, in a
// virtual list (only the visible rows exist in the page, so 10,000 items
// render as fast as 10), with the verified detail of the open item beside it.
// Keyboard: J/K move, Enter opens, A approves, R rejects the open item.
import { QueuePayload, QueueRow } from "../api";
import { clear, h } from "../dom";
import { isUrgent, timeLeft, verbLabel } from "../format";
import { DetailPane } from "./detail";
import { toast } from "../toast";

const ROW_HEIGHT = 84;
const OVERSCAN = 6;

export class QueueScreen {
  private rows: QueueRow[] = [];
  private visible: QueueRow[] = [];
  private selected: string | null = null;
  private verb = "";
  private text = "";
  // A listbox: the rows are its options, the selected one announced through
  // aria-activedescendant while focus stays on the list (rows come and go as it scrolls).
  private list = h("div", { class: "queue-list", tabindex: 0, role: "listbox", "aria-label": "Pending approvals", "data-testid": "queue-list" });
  private spacer = h("div", { class: "queue-spacer", role: "none" });
  private empty = h("div", { class: "queue-empty" });
  private verbSelect = h("select", { "aria-label": "Filter by verb", "data-testid": "filter-verb" });
  private search = h("input", { type: "search", placeholder: "Filter: payee, tool, rule, account…", "aria-label": "Filter by text", "data-testid": "filter-text", spellcheck: "false" });
  private header = h("div", { class: "queue-head" });
  private detail = new DetailPane();
  private loaded = false;

  /// Whether votes are signed by the system signer (each asks at its prompt).
  setKeyProtected(on: boolean) {
    this.detail.signerPrompts = on;
  }

  constructor() {
    this.list.appendChild(this.spacer);
    this.list.addEventListener("scroll", () => this.paint());
    this.verbSelect.addEventListener("change", () => { this.verb = this.verbSelect.value; this.refilter(); });
    this.search.addEventListener("input", () => { this.text = this.search.value.toLowerCase(); this.refilter(); });
    document.addEventListener("keydown", (e) => this.onKey(e));
    setInterval(() => this.paint(), 30000);
    new ResizeObserver(() => this.paint()).observe(this.list);
  }

  mount(into: HTMLElement) {
    clear(into,
      h("div", { class: "queue-screen" },
        h("section", { class: "queue-pane" },
          this.header,
          h("div", { class: "filters" }, this.verbSelect, this.search),
          h("div", { class: "queue-body" }, this.list, this.empty),
        ),
        this.detail.root,
      ),
    );
    this.paint();
  }

  /// A new queue state. How long it took to take in and draw is kept on the
  /// list (`data-update-ms`, and `data-delivery-ms` from the app sending it
  /// to this call) for the benchmark.
  update(payload: QueuePayload) {
    const t0 = performance.now();
    this.list.dataset.deliveryMs = String(Date.now() - payload.sent_at_ms);
    this.loaded = payload.loaded;
    this.rows = payload.rows;
    const verbs = [...new Set(this.rows.map((r) => r.verb).filter(Boolean))].sort();
    const current = this.verbSelect.value;
    clear(this.verbSelect,
      h("option", { value: "" }, "All verbs"),
      verbs.map((v) => h("option", { value: v }, verbLabel(v))),
      this.rows.some((r) => r.refusal) ? h("option", { value: "refused" }, "Refused") : null,
    );
    this.verbSelect.value = current;
    clear(this.header,
      h("h1", {}, "Pending approvals"),
      h("span", { class: "muted", "data-testid": "pending-total" },
        payload.pending_total > this.rows.length
          ? `${this.rows.length} of ${payload.pending_total}`
          : `${payload.pending_total}`),
    );
    this.refilter();
    this.detail.queueChanged(new Set(this.rows.map((r) => r.action_hash)));
    this.list.dataset.updateMs = (performance.now() - t0).toFixed(2);
  }

  private matches(row: QueueRow): boolean {
    if (this.verb === "refused" && !row.refusal) return false;
    if (this.verb && this.verb !== "refused" && row.verb !== this.verb) return false;
    if (!this.text) return true;
    const haystack = [row.summary, row.tool, row.rule_id, row.workflow, row.account, row.action_hash, row.refusal ?? "",
      ...row.facts.map(([, v]) => v)].join(" ").toLowerCase();
    return haystack.includes(this.text);
  }

  private refilter() {
    this.visible = this.rows.filter((r) => this.matches(r));
    this.paint();
  }

  /// Draws the rows in view. Its duration is kept on the list for measurement.
  private paint() {
    const t0 = performance.now();
    const total = this.visible.length;
    this.spacer.style.height = `${total * ROW_HEIGHT}px`;
    const top = this.list.scrollTop;
    const height = this.list.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const now = Date.now();
    const nodes: HTMLElement[] = [];
    for (let i = first; i < last; i++) nodes.push(this.rowElement(this.visible[i], i, now));
    this.spacer.replaceChildren(...nodes);
    const selectedShown = nodes.some((n) => n.id === rowId(this.selected));
    if (selectedShown) this.list.setAttribute("aria-activedescendant", rowId(this.selected));
    else this.list.removeAttribute("aria-activedescendant");
    this.empty.hidden = total > 0;
    this.empty.textContent = !this.loaded
      ? "Loading the queue…"
      : this.rows.length === 0
        ? "Nothing is waiting for your approval."
        : "No approval matches the filter.";
    this.list.dataset.renderMs = (performance.now() - t0).toFixed(2);
    this.list.dataset.rows = String(total);
  }

  private rowElement(row: QueueRow, index: number, now: number): HTMLElement {
    const el = this.rowContent(row, now);
    el.id = rowId(row.action_hash);
    el.setAttribute("role", "option");
    el.setAttribute("aria-selected", String(row.action_hash === this.selected));
    // Only the rows in view exist: say where this one sits in the whole list.
    el.setAttribute("aria-setsize", String(this.visible.length));
    el.setAttribute("aria-posinset", String(index + 1));
    // Positioned through the CSSOM: the CSP allows no style attributes.
    el.style.top = `${index * ROW_HEIGHT}px`;
    el.style.height = `${ROW_HEIGHT - 8}px`;
    return el;
  }

  private rowContent(row: QueueRow, now: number): HTMLElement {
    const left = timeLeft(row.sla_deadline, now);
    const attrs = {
      class: `queue-item${row.action_hash === this.selected ? " selected" : ""}${row.refusal ? " refused" : ""}`,
      "data-testid": "queue-item",
      "data-action-hash": row.action_hash,
      onclick: () => this.open(row.action_hash),
    };
    if (row.refusal) {
      return h("div", attrs,
        h("div", { class: "row-top" }, h("span", { class: "badge badge-refused" }, "Refused"), h("span", { class: "row-left" }, left)),
        h("div", { class: "row-summary" }, "Failed verification: cannot be approved"),
        h("div", { class: "row-meta ellipsis" }, row.refusal),
      );
    }
    return h("div", attrs,
      h("div", { class: "row-top" },
        h("span", { class: `badge badge-${row.verb}` }, verbLabel(row.verb)),
        h("span", { class: "row-tool ellipsis" }, row.tool),
        h("span", { class: `row-left${isUrgent(row.sla_deadline, now) ? " urgent" : ""}` }, left),
      ),
      h("div", { class: "row-summary ellipsis isolated" }, row.warning ? h("span", { class: "row-warning", title: row.warning, "data-testid": "row-warning" }, "⚠ ") : null, row.summary),
      h("div", { class: "row-meta ellipsis isolated" }, `${row.workflow} · ${row.account} · ${row.rule_id}`, row.quorum ? h("span", { class: "row-quorum", "data-testid": "row-quorum" }, ` · ${row.quorum}`) : null),
    );
  }

  /// Opens an item from outside the list (a notification, a deep link),
  /// scrolled into view when it is listed.
  /// Resolves once its detail is on screen.
  reveal(hash: string): Promise<void> {
    const index = this.visible.findIndex((r) => r.action_hash === hash);
    if (index >= 0) this.list.scrollTop = Math.max(0, index * ROW_HEIGHT - this.list.clientHeight / 2);
    return this.open(hash);
  }

  private open(hash: string): Promise<void> {
    this.selected = hash;
    this.paint();
    return this.detail.show(hash);
  }

  private move(step: number) {
    if (this.visible.length === 0) return;
    let index = this.visible.findIndex((r) => r.action_hash === this.selected);
    index = index < 0 ? 0 : Math.min(this.visible.length - 1, Math.max(0, index + step));
    this.selected = this.visible[index].action_hash;
    const top = index * ROW_HEIGHT;
    if (top < this.list.scrollTop) this.list.scrollTop = top;
    else if (top + ROW_HEIGHT > this.list.scrollTop + this.list.clientHeight) this.list.scrollTop = top + ROW_HEIGHT - this.list.clientHeight;
    this.paint();
  }

  private onKey(e: KeyboardEvent) {
    if (!this.list.isConnected || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    const key = e.key.toLowerCase();
    if (key === "j" || (key === "arrowdown" && target === this.list)) this.move(1);
    else if (key === "k" || (key === "arrowup" && target === this.list)) this.move(-1);
    else if (key === "home" && target === this.list) this.move(-this.visible.length);
    else if (key === "end" && target === this.list) this.move(this.visible.length);
    // Enter belongs to whatever has the focus (a button, a link) unless that is the list itself.
    else if (key === "enter" && this.selected && (target === this.list || target === document.body)) this.open(this.selected);
    else if ((key === "a" || key === "r") && this.selected) {
      // Only what is on screen is ever signed: the open, verified item.
      if (this.detail.openHash() !== this.selected) {
        this.open(this.selected);
        return;
      }
      // A key press is too quick to be a look: the item must have been on screen a moment.
      if (!this.detail.keysReady()) {
        toast("Take a moment to read it: A and R work once the item has been open briefly.", "info");
        e.preventDefault();
        return;
      }
      void this.detail.decide(key === "a" ? "approve" : "reject");
    } else return;
    e.preventDefault();
  }
}

/// The element id of a row, for aria-activedescendant.
function rowId(hash: string | null): string {
  return `queue-row-${hash ?? ""}`;
}
