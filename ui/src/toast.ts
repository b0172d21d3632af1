import { h } from "./dom";

/// A short message in the corner; errors stay until dismissed. Returns what
/// takes it away sooner (a message about something that has ended).
export function toast(message: string, kind: "ok" | "info" | "error" = "info"): () => void {
  const box = document.getElementById("toasts")!;
  const close = () => el.remove();
  const el = h(
    "div",
    // Errors interrupt (an alert); the rest wait for a pause (the polite region).
    { class: `toast toast-${kind}`, "data-testid": "toast", "data-kind": kind, role: kind === "error" ? "alert" : undefined },
    h("span", {}, message),
    h("button", { class: "toast-close", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  box.appendChild(el);
  // A few at most: a pile of old messages would cover the controls.
  while (box.children.length > 3) box.firstElementChild?.remove();
  if (kind !== "error") setTimeout(close, 4000);
  return close;
}
