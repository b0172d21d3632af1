// Settings: how the queue is kept fresh, notifications, the profile and key
// fingerprint, and removing this device (which deletes the key).
import { api, errorText, RosterEntry, Settings, Status } from "../api";
import { clear, h } from "../dom";
import { VERB_ORDER, verbLabel } from "../format";
import { toast } from "../toast";

export async function renderSettings(into: HTMLElement, status: Status, changed: (s: Status) => void) {
  let settings: Settings;
  try {
    settings = await api.settings();
  } catch (e) {
    clear(into, h("p", { class: "error-text" }, errorText(e)));
    return;
  }
  const longPoll = h("input", { type: "radio", name: "poll", checked: settings.long_poll });
  const poll = h("input", { type: "radio", name: "poll", checked: !settings.long_poll });
  const interval = h("input", { type: "number", min: 2, max: 3600, value: settings.poll_interval_secs, class: "narrow-input", "data-testid": "poll-interval" });
  const enabled = h("input", { type: "checkbox", checked: settings.notifications.enabled });
  const limits = h("input", { type: "text", value: formatLimits(settings.notifications.payment_limits), class: "wide-input", "data-testid": "payment-limits", spellcheck: false });
  const background = h("input", { type: "checkbox", checked: settings.run_in_background, "data-testid": "run-in-background" });
  const atLogin = h("input", { type: "checkbox", checked: settings.start_at_login, "data-testid": "start-at-login" });
  const rank = (v: string) => (VERB_ORDER.indexOf(v) + 100) % 100;
  const verbs = Object.keys(settings.notifications.approve_from_notification).sort((a, b) => rank(a) - rank(b));
  const perVerb = verbs.map((verb) => ({ verb, box: h("input", { type: "checkbox", checked: settings.notifications.approve_from_notification[verb] }) }));

  const save = h("button", { class: "primary", "data-testid": "settings-save" }, "Save settings");
  save.addEventListener("click", async () => {
    let paymentLimits: Record<string, number>;
    try {
      paymentLimits = parseLimits(limits.value);
    } catch (e) {
      toast(String(e instanceof Error ? e.message : e), "error");
      return;
    }
    const next: Settings = {
      long_poll: longPoll.checked,
      poll_interval_secs: Number(interval.value),
      notifications: {
        enabled: enabled.checked,
        approve_from_notification: Object.fromEntries(perVerb.map(({ verb, box }) => [verb, box.checked])),
        payment_limits: paymentLimits,
        muted_workflows: settings.notifications.muted_workflows,
      },
      run_in_background: background.checked,
      start_at_login: atLogin.checked,
      demo: settings.demo,
    };
    try {
      settings = await api.saveSettings(next);
      toast("Settings saved.", "ok");
    } catch (e) {
      toast(errorText(e), "error");
    }
  });

  const roster = h("div", { "data-testid": "roster" }, h("p", { class: "muted small" }, "Loading…"));
  void fillRoster(roster);

  const protect = protectCard(status, changed);

  const remove = h("button", { class: "danger", "data-testid": "remove-device" }, "Remove this device…");
  remove.addEventListener("click", () => confirmRemove(changed));

  clear(into,
    h("div", { class: "page settings" },
      h("div", { class: "page-head" }, h("h1", {}, "Settings")),
      protect,
      h("section", { class: "card" },
        h("h2", {}, "Queue updates"),
        h("label", { class: "inline" }, longPoll, "Instant (long-poll): changes show as soon as the control plane has them"),
        h("label", { class: "inline" }, poll, "Poll every ", interval, " seconds"),
      ),
      h("section", { class: "card" },
        h("h2", {}, "Notifications"),
        h("label", { class: "inline" }, enabled, "Show a notification for each new approval"),
        h("p", { class: "muted small" }, "Allow approving straight from a notification for:"),
        h("div", { class: "verb-grid" }, perVerb.map(({ verb, box }) => h("label", { class: "inline" }, box, verbLabel(verb)))),
        h("label", { class: "stacked" }, "Payments approvable from a notification up to, per currency (others always need the app):", limits),
        h("p", { class: "muted small" }, "For example: USD 10000, EUR 10000, JPY 1500000. A notification never offers Approve for an item with a redacted or suspicious value."),
      ),
      h("section", { class: "card" },
        h("h2", {}, "Running in the background"),
        h("label", { class: "inline" }, background, "Keep running in the tray when the window is closed (notifications keep coming)"),
        h("label", { class: "inline" }, atLogin, "Start in the background when I log in"),
      ),
      h("div", { class: "save-row" }, save),
      h("section", { class: "card" },
        h("h2", {}, "This device"),
        h("dl", { class: "facts" },
          h("dt", {}, "Key fingerprint"), h("dd", { class: "mono", "data-testid": "settings-fingerprint" }, status.fingerprint ?? ""),
          h("dt", {}, "Key"), h("dd", { class: status.key_protected ? "" : "row-warning", "data-testid": "settings-key-protection" }, status.key_protection ?? ""),
          h("dt", {}, "Org"), h("dd", {}, status.demo ? "Local demo" : status.org ?? ""),
          h("dt", {}, "Control plane"), h("dd", { class: "mono small" }, status.url ?? ""),
          h("dt", {}, "Device name"), h("dd", {}, status.label ?? ""),
          h("dt", {}, "Operator keys"), h("dd", { class: "mono small pre-line", "data-testid": "settings-operator-fingerprints" }, status.operator_fingerprints.join("\n")),
        ),
      ),
      h("section", { class: "card" },
        h("h2", {}, "Who can approve"),
        h("p", { class: "muted small" }, "Every key your org's control plane accepts votes from. A key the operator registered counts only once an administrator has confirmed it."),
        roster,
      ),
      h("section", { class: "card danger-zone" },
        h("h2", {}, "Remove this device"),
        h("p", { class: "muted small" }, `Deletes the signing key ${status.key_protected ? "from the system signer" : "from this computer's keychain"} and forgets the enrolment. The local journal of your decisions is kept. You will need a new enrolment code to approve again.`),
        remove,
      ),
    ),
  );
}

/// For a key in the keychain: what that means, and (where a system signer
/// runs) moving it there with a new one-time code. Nothing for a protected key.
function protectCard(status: Status, changed: (s: Status) => void): HTMLElement | null {
  if (status.key_protected || status.demo || status.stage !== "ready") return null;
  const explain = h("p", {}, "This device's signing key is in your keychain. Any program running as you (an agent on this computer, a package's install script) can read it and approve in your name, without you seeing anything.");
  if (!status.can_protect) {
    return h("section", { class: "card warning-card", "data-testid": "protect-card" },
      h("h2", {}, "Your key is not protected"),
      explain,
      h("p", { class: "muted small" }, "No system signer answers on this computer. Install HESO Approver from its package (it installs the signer), then move the key here."));
  }
  const code = h("input", { type: "text", class: "wide-input mono", autocomplete: "off", spellcheck: false, "data-testid": "protect-code", "aria-label": "New one-time enrolment code" });
  const move = h("button", { class: "primary", "data-testid": "protect-submit" }, "Move the key into the system signer");
  move.addEventListener("click", async () => {
    if (!code.value.trim()) {
      toast("Enter a new one-time code from your administrator first.", "error");
      code.focus();
      return;
    }
    move.disabled = true;
    const prompting = toast("Confirm at the system prompt: it asks for your password.", "info");
    try {
      const next = await api.protectKey(code.value);
      prompting();
      toast("The key is now held by the system signer; the old key is retired.", "ok");
      changed(next);
    } catch (e) {
      prompting();
      move.disabled = false;
      toast(errorText(e), "error");
    }
  });
  return h("section", { class: "card warning-card", "data-testid": "protect-card" },
    h("h2", {}, "Protect your key"),
    explain,
    h("p", {}, "Move it into the system signer: a new key is made there, out of reach of your other programs, and every vote then needs you at the system prompt. The old key is retired. You need a new one-time code from your administrator (same org)."),
    h("label", { class: "stacked" }, "New one-time code", code),
    h("div", { class: "save-row" }, move));
}

async function fillRoster(into: HTMLElement) {
  try {
    const roster = await api.roster();
    clear(into, h("table", { class: "roster" },
      h("thead", {}, h("tr", {}, h("th", {}, "Device"), h("th", {}, "Key fingerprint"), h("th", {}, "Joined by"), h("th", {}, "Key held"), h("th", {}, "State"))),
      h("tbody", {}, roster.items.map(rosterRow))));
  } catch (e) {
    clear(into, h("p", { class: "muted small" }, `The roster is not available: ${errorText(e)}`));
  }
}

function rosterRow(entry: RosterEntry): HTMLElement {
  const state = entry.revoked ? "revoked" : entry.confirmed ? "can approve" : "awaiting confirmation";
  return h("tr", { "data-testid": "roster-entry", class: entry.you ? "you" : "" },
    h("td", { class: "isolated" }, entry.label, entry.you ? h("span", { class: "muted small" }, " (this device)") : null),
    h("td", { class: "mono small" }, entry.fingerprint),
    h("td", {}, entry.source === "enrolment" ? "one-time code" : entry.source === "operator" ? "operator's API key" : entry.source),
    h("td", { class: entry.protection === "signer" ? "" : "row-warning" }, keyHeld(entry.protection)),
    h("td", { class: entry.confirmed && !entry.revoked ? "" : "warn-text" }, state));
}

/// What the device reported at enrolment: its own word, said as such.
function keyHeld(protection: string | null): string {
  if (protection === "signer") return "system signer (self-reported)";
  if (protection === "keychain") return "keychain: not protected from other programs (self-reported)";
  return "not reported";
}

function confirmRemove(changed: (s: Status) => void) {
  const returnTo = document.activeElement as HTMLElement | null;
  const close = () => {
    overlay.remove();
    document.removeEventListener("keydown", onKey, true);
    returnTo?.focus();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === "Tab") {
      // Focus stays in the dialog while it is open.
      const buttons = [...overlay.querySelectorAll("button")].filter((b) => !b.disabled);
      const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
      const next = (at + (e.shiftKey ? -1 : 1) + buttons.length) % buttons.length;
      e.preventDefault();
      buttons[next]?.focus();
    }
  };
  const cancel = h("button", { class: "secondary", "data-testid": "remove-cancel", onclick: () => close() }, "Cancel");
  const confirm = h("button", { class: "danger", "data-testid": "remove-confirm" }, "Delete the key and remove");
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const status = await api.removeDevice();
      close();
      toast("This device was removed; its key is deleted from the keychain.", "ok");
      changed(status);
    } catch (e) {
      confirm.disabled = false;
      toast(errorText(e), "error");
    }
  });
  const overlay = h("div", { class: "overlay" },
    h("div", { class: "card dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": "remove-title", "aria-describedby": "remove-text" },
      h("h2", { id: "remove-title" }, "Remove this device?"),
      h("p", { id: "remove-text" }, "The signing key is deleted from the keychain. This cannot be undone."),
      h("div", { class: "dialog-buttons" }, cancel, confirm),
    ),
  );
  document.body.appendChild(overlay);
  document.addEventListener("keydown", onKey, true);
  // The safe choice has the focus.
  cancel.focus();
}

/// `{USD: 10000, EUR: 9000}` as `USD 10000, EUR 9000`.
function formatLimits(limits: Record<string, number>): string {
  return Object.entries(limits).map(([currency, limit]) => `${currency} ${limit}`).join(", ");
}

/// The inverse of `formatLimits`, with a sentence for what it cannot read.
function parseLimits(text: string): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p)) {
    const match = /^([A-Za-z]{3})\s+([0-9][0-9_ ]*(?:\.[0-9]+)?)$/.exec(part);
    if (!match) throw new Error(`“${part}” is not a currency code and an amount, such as “USD 10000”.`);
    limits[match[1].toUpperCase()] = Number(match[2].replace(/[_ ]/g, ""));
  }
  return limits;
}
