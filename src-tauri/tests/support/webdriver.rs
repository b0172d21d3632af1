//! The real app window, driven through `tauri-driver` (which runs
//! WebKitWebDriver) with the `fantoccini` WebDriver client. What is ours:
//! starting and stopping the driver with everything it started, waits for an
//! element by CSS and text, a click that something covers tried again,
//! keyboard moves, the accessibility check and screenshots.

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Driver {
    process: Child,
    client: Option<Client>,
    shots: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return path.into();
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => "tauri-driver".into(),
    }
}

impl Driver {
    /// Starts `tauri-driver` and, through it, the app at `app` with `env`.
    pub async fn launch(app: &Path, env: &[(&str, &Path)], shots: PathBuf) -> Driver {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "needs an X display: run under xvfb-run (scripts/test.sh does)"
        );
        let (port, native) = (free_port(), free_port());
        let mut command = Command::new(tauri_driver());
        command
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group, so that stopping it also stops the
            // WebKitWebDriver and the app it started, even after a failed
            // test: a leftover app would take the next launch through the
            // single-instance handoff.
            .process_group(0);
        for (name, value) in env {
            command.env(name, value);
        }
        let process = command
            .spawn()
            .expect("tauri-driver runs (cargo install tauri-driver --locked; .ci/run does)");
        let mut driver = Driver {
            process,
            client: None,
            shots,
        };
        let mut capabilities = fantoccini::wd::Capabilities::new();
        capabilities.insert("tauri:options".into(), json!({ "application": app }));
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match builder.connect(&url).await {
                Ok(client) => {
                    driver.client = Some(client);
                    break;
                }
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "no WebDriver session through tauri-driver: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::fs::create_dir_all(&driver.shots).unwrap();
        driver
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session is open")
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client()
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
    }

    /// Waits (up to 30 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_until(css, |_| true).await
    }

    /// Waits (up to 30 s) for an element matching `css` whose text satisfies `test`.
    pub async fn wait_until(&self, css: &str, test: impl Fn(&str) -> bool) -> Element {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = Vec::new();
        loop {
            last.clear();
            for element in self.find_all(css).await {
                let text = self.text(&element).await;
                if test(&text) {
                    return element;
                }
                last.push(text);
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                panic!("timed out waiting for `{css}`; texts seen: {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The element's text content (all of it, clipped or not); empty when
    /// the element has gone (the queue redraws its rows as it scrolls).
    pub async fn text(&self, element: &Element) -> String {
        element
            .prop("textContent")
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        element.attr(name).await.ok().flatten()
    }

    /// Clicks an element; while something covers it (a toast fading out),
    /// tries again for up to 10 s rather than carrying on as if it had worked.
    pub async fn click(&self, element: &Element) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match element.click().await {
                Ok(()) => return,
                Err(CmdError::Standard(e)) if e.error == ErrorStatus::ElementClickIntercepted => {
                    if Instant::now() > deadline {
                        self.screenshot("click-intercepted").await;
                        panic!("the click stayed intercepted: {e}");
                    }
                }
                Err(e) => panic!("the click failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Clicks the element matching `css`, found again whenever the page
    /// replaced it between finding and clicking (a list that re-renders as
    /// items arrive).
    pub async fn click_css(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let element = self.wait_for(css).await;
            match element.click().await {
                Ok(()) => return,
                Err(CmdError::Standard(e))
                    if matches!(
                        e.error,
                        ErrorStatus::StaleElementReference
                            | ErrorStatus::NoSuchElement
                            | ErrorStatus::ElementClickIntercepted
                    ) && Instant::now() < deadline => {}
                Err(e) => panic!("the click on {css} failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types `text` into an element, as key presses.
    pub async fn type_into(&self, element: &Element, text: &str) {
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing {text:?} failed: {e}"));
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.client()
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
    }

    /// Runs a script that ends by calling its last argument, and returns what it passed.
    pub async fn script_async(&self, script: &str) -> Value {
        self.client()
            .execute_async(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("the script failed: {e}"))
    }

    /// The element that has the keyboard focus.
    pub async fn focused(&self) -> Element {
        self.client()
            .active_element()
            .await
            .expect("some element has the focus")
    }

    /// Presses Tab (Shift+Tab when `back`) until the element with this test
    /// id has the focus, as a keyboard user moves; returns that element.
    pub async fn tab_to(&self, test_id: &str, back: bool) -> Element {
        const SHIFT: &str = "\u{E008}";
        const TAB: &str = "\u{E004}";
        for _ in 0..60 {
            let focused = self.focused().await;
            if self.attribute(&focused, "data-testid").await.as_deref() == Some(test_id) {
                return focused;
            }
            let keys = if back {
                format!("{SHIFT}{TAB}")
            } else {
                TAB.to_owned()
            };
            self.type_into(&focused, &keys).await;
        }
        panic!("Tab never reached [data-testid={test_id}]");
    }

    /// Runs axe-core (WCAG 2.1 A and AA, and its best practices) over the
    /// page as it is and fails on any serious or critical violation.
    pub async fn assert_accessible(&self, screen: &str) {
        let axe = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/node_modules/axe-core/axe.min.js"),
        )
        .expect("axe-core is installed with the UI's packages (npm ci in ui/)");
        let report = self
            .script_async(&format!(
                "{axe}
                 const done = arguments[arguments.length - 1];
                 axe.run(document, {{ runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }})
                   .then((r) => done({{ checked: r.passes.length, violations: r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => ({{ id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ': ' + n.failureSummary) }})) }}))
                   .catch((e) => done({{ error: String(e) }}));"
            ))
            .await;
        assert!(
            report["error"].is_null(),
            "axe-core did not run on {screen}: {report}"
        );
        assert!(
            report["checked"].as_u64().unwrap_or(0) > 0,
            "axe-core checked nothing on {screen}: {report}"
        );
        let violations = report["violations"].as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "serious or critical accessibility violations on {screen}:\n{}",
            serde_json::to_string_pretty(&violations).unwrap()
        );
    }

    /// Checks the screen's accessibility (axe-core) and saves a PNG of the
    /// window as `<name>.png` in the screenshot folder.
    pub async fn screenshot(&self, name: &str) {
        self.assert_accessible(name).await;
        // With software painting, WebKitWebDriver's screenshot waits for the
        // next frame, and a still page never paints one: flicker one nearly
        // transparent pixel while the screenshot is taken so frames keep coming.
        self.script(
            "const p = document.createElement('div'); p.id = 'screenshot-nudge';
             p.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;background:#000;opacity:0.01';
             document.body.append(p);
             window.screenshotNudge = setInterval(() => { p.style.opacity = p.style.opacity === '0.01' ? '0.02' : '0.01'; }, 40);",
        )
        .await;
        let shot = self.client().screenshot().await;
        self.script("clearInterval(window.screenshotNudge); document.getElementById('screenshot-nudge').remove();")
            .await;
        let png = shot.unwrap_or_else(|e| panic!("no screenshot of {name}: {e}"));
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Ends the session (which closes the app) and stops tauri-driver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
        self.stop();
    }

    /// Stops tauri-driver and everything in its process group.
    fn stop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}
