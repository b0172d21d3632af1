// First run: connect to a control plane with a one-time code, or try the
// embedded local demo. Ends by showing the device key fingerprint.
import { api, errorText, Status } from "../api";
import { clear, h } from "../dom";
import { toast } from "../toast";

export function renderOnboarding(done: (status: Status) => void): HTMLElement {
  const root = h("main", { class: "center onboarding" });
  const url = h("input", { type: "url", "data-testid": "enroll-url", placeholder: "https://approvals.example.com", autocomplete: "off", spellcheck: "false", required: true });
  const code = h("input", { type: "text", "data-testid": "enroll-code", placeholder: "One-time code from your operator", autocomplete: "off", spellcheck: "false", required: true });
  const label = h("input", { type: "text", placeholder: "e.g. Dana's laptop (optional)", maxlength: 80 });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "enroll-submit" }, "Connect");
  const demo = h("button", { class: "secondary", "data-testid": "demo-start" }, "Try the local demo");

  const busy = (on: boolean) => {
    submit.disabled = on;
    demo.disabled = on;
  };
  const finished = (status: Status) => {
    clear(root, fingerprintCard(status, () => done(status)));
  };

  const form = h("form", { class: "stack", novalidate: true },
    h("label", {}, "Control plane address", url),
    h("label", {}, "Enrolment code", code),
    h("label", {}, "Device name", label),
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!url.value.trim() || !code.value.trim()) {
      toast("Enter the control plane address and the enrolment code your operator gave you.", "error");
      return;
    }
    busy(true);
    submit.textContent = "Connecting…";
    try {
      finished(await api.enrol(url.value, code.value, label.value));
    } catch (err) {
      toast(errorText(err), "error");
    } finally {
      busy(false);
      submit.textContent = "Connect";
    }
  });
  demo.addEventListener("click", async () => {
    busy(true);
    demo.textContent = "Starting the demo…";
    try {
      finished(await api.startDemo());
    } catch (err) {
      toast(errorText(err), "error");
    } finally {
      busy(false);
      demo.textContent = "Try the local demo";
    }
  });

  clear(root,
    h("section", { class: "card welcome" },
      h("div", { class: "welcome-head" },
        h("img", { src: "/icon.png", alt: "", width: 48, height: 48 }),
        h("div", {},
          h("h1", {}, "Welcome to HESO Approver"),
          h("p", { class: "muted" }, "Review and co-sign the actions your AI agents are waiting to take. Your signing key is created on this device and stays in its keychain."),
        ),
      ),
      h("div", { class: "columns" },
        h("div", { class: "column" },
          h("h2", {}, "Connect to a control plane"),
          h("p", { class: "muted small" }, "Your operator gives you the address and a one-time enrolment code."),
          form,
        ),
        h("div", { class: "column demo-column" },
          h("h2", {}, "Just looking?"),
          h("p", { class: "muted small" }, "Start a control plane on this computer with a demo operator that sends realistic approvals every few seconds. Nothing leaves this machine."),
          demo,
        ),
      ),
    ),
  );
  return root;
}

function fingerprintCard(status: Status, next: () => void): HTMLElement {
  return h("section", { class: "card narrow" },
    h("h1", {}, status.demo ? "The local demo is running" : `Enrolled with ${status.org ?? "your org"}`),
    h("p", {}, status.demo
      ? "This device is enrolled with the demo control plane. Approvals start arriving now."
      : "Read this fingerprint out to your operator so they can confirm it is this device that enrolled:"),
    h("p", { class: "fingerprint", "data-testid": "enrolled-fingerprint" }, status.fingerprint ?? ""),
    status.demo
      ? null
      : h("div", { class: "operator-keys" },
          h("p", {}, "Now compare the operator's key with what your operator shows you (on the control plane: heso-control-plane org show). Every approval you see is checked against it:"),
          h("ul", { class: "mono", "data-testid": "operator-fingerprints" }, status.operator_fingerprints.map((f) => h("li", {}, f))),
          h("p", { class: "muted small" }, "If they differ, remove this device in Settings and tell your operator: you may not be talking to your organisation's control plane.")),
    h("p", { class: "muted small" }, `Control plane ${status.url ?? ""}`),
    h("button", { class: "primary", "data-testid": "open-queue", onclick: next }, "Open the queue"),
  );
}
