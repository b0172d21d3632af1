// The app shell: decides which screen to show and keeps the navigation,
// the connection state and the queue count current.
import { listen } from "@tauri-apps/api/event";
import { api, errorText, QueuePayload, Status } from "./api";
import { clear, h } from "./dom";
import { renderOnboarding } from "./screens/onboarding";
import { QueueScreen } from "./screens/queue";
import { renderAudit } from "./screens/audit";
import { renderSettings } from "./screens/settings";

type Tab = "queue" | "audit" | "settings";

const app = document.getElementById("app")!;
let status: Status | null = null;
let tab: Tab = "queue";
let queue: QueuePayload = { online: false, last_error: null, pending_total: 0, loaded: false, rows: [], sent_at_ms: 0 };
const queueScreen = new QueueScreen();

async function start() {
  await listen("queue-changed", () => void refreshQueue());
  // From a notification, the tray or a heso://approval/<hash> link.
  await listen<string | null>("open-item", (event) => {
    if (status?.stage !== "ready") return;
    tab = "queue";
    render();
    if (event.payload) {
      const hash = event.payload;
      void queueScreen.reveal(hash).then(() =>
        requestAnimationFrame(() => requestAnimationFrame(() => void api.itemPainted(hash))));
    }
  });
  await refreshStatus();
  requestAnimationFrame(() => requestAnimationFrame(() => void api.uiReady()));
}

async function refreshStatus() {
  try {
    status = await api.status();
  } catch (e) {
    status = { stage: "error", error: errorText(e), org: null, url: null, label: null, fingerprint: null, operator_fingerprints: [], demo: false, key_protected: false, key_protection: null, can_protect: false };
  }
  render();
}

function render() {
  if (!status) return;
  queueScreen.setKeyProtected(status.key_protected);
  if (status.stage === "first_run") {
    clear(app, renderOnboarding((next) => {
      status = next;
      tab = "queue";
      render();
    }));
    return;
  }
  if (status.stage === "error") {
    clear(
      app,
      h("main", { class: "center" },
        h("section", { class: "card narrow" },
          h("h1", {}, "HESO Approver cannot open this device's approver"),
          h("p", { class: "error-text", "data-testid": "open-error" }, status.error ?? "unknown error"),
          h("p", { class: "muted" }, "Fix the cause (for example, unlock the keyring), then restart the app."),
        ),
      ),
    );
    return;
  }
  const nav = (id: Tab, label: string, extra?: Node) =>
    h("button", {
      class: `nav-item${tab === id ? " active" : ""}`,
      "data-testid": `nav-${id}`,
      onclick: () => { tab = id; render(); },
    }, h("span", {}, label), extra);
  const content = h("div", { class: "content" });
  clear(
    app,
    h("div", { class: "shell" },
      h("aside", { class: "sidebar" },
        h("div", { class: "brand" }, h("img", { src: "/icon.png", alt: "", width: 28, height: 28 }), h("span", {}, "HESO Approver")),
        h("nav", {},
          nav("queue", "Queue", h("span", { class: "count", id: "nav-count" }, String(queue.pending_total))),
          nav("audit", "Audit"),
          nav("settings", "Settings"),
        ),
        h("div", { class: "sidebar-foot" },
          h("div", { class: "conn", id: "conn" }),
          h("div", { class: "muted small" }, status.demo ? "Local demo" : `Org ${status.org ?? ""}`),
          h("div", { class: "mono small", title: "This device's key fingerprint" }, status.fingerprint ?? ""),
          // Said wherever the person looks: a key any program of theirs can read.
          status.key_protected || status.demo ? null :
            h("button", { class: "key-warning", "data-testid": "key-warning", onclick: () => { tab = "settings"; render(); } },
              "Key not protected from other programs"),
        ),
      ),
      content,
    ),
  );
  updateChrome();
  if (tab === "queue") {
    queueScreen.mount(content);
    void refreshQueue();
  } else if (tab === "audit") {
    void renderAudit(content);
  } else {
    void renderSettings(content, status, (next) => { status = next; render(); });
  }
}

// One fetch at a time; changes during a fetch are picked up by one more.
let fetching = false;
let stale = false;
async function refreshQueue() {
  if (fetching) {
    stale = true;
    return;
  }
  fetching = true;
  try {
    do {
      stale = false;
      queue = await api.queue();
      updateChrome();
      queueScreen.update(queue);
    } while (stale);
  } catch {
    // Not enrolled (yet): nothing to show.
  } finally {
    fetching = false;
  }
}

function updateChrome() {
  const count = document.getElementById("nav-count");
  if (count) count.textContent = String(queue.pending_total);
  const conn = document.getElementById("conn");
  if (conn) {
    const text = !queue.loaded && queue.online === false && !queue.last_error
      ? "Connecting…"
      : queue.online ? "Online" : "Offline, retrying";
    clear(conn,
      h("span", { class: `dot ${queue.online ? "on" : "off"}` }),
      h("span", { "data-testid": "connection", title: queue.last_error ?? status?.url ?? "" }, text),
    );
  }
}

void start();
