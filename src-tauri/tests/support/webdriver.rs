//! A small W3C WebDriver client for driving the real app window through
//! `tauri-driver` (which runs WebKitWebDriver): start, find, click, type,
//! read, wait, screenshot.

use base64::Engine as _;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    process: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    shots: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tauri_driver() -> PathBuf {
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
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            shots,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app}}}});
        loop {
            if let Ok(r) = driver
                .http
                .post(format!("{}/session", driver.base))
                .json(&caps)
                .send()
                .await
            {
                let body: Value = r.json().await.unwrap_or_default();
                let id = body["value"]["sessionId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "no WebDriver session: {body}");
                driver.session = id.to_owned();
                break;
            }
            assert!(Instant::now() < deadline, "tauri-driver did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        std::fs::create_dir_all(&driver.shots).unwrap();
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("WebDriver answers");
        let body: Value = response.json().await.unwrap_or_default();
        body["value"].clone()
    }

    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (up to 30 s) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> String {
        self.wait_until(css, |_| true).await
    }

    /// Waits (up to 30 s) for an element matching `css` whose text satisfies `test`.
    pub async fn wait_until(&self, css: &str, test: impl Fn(&str) -> bool) -> String {
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

    /// The element's text content (all of it, clipped or not).
    pub async fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/property/textContent"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Clicks an element; while something covers it (a toast fading out),
    /// tries again for up to 10 s rather than carrying on as if it had worked.
    pub async fn click(&self, element: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self
                .call(
                    reqwest::Method::POST,
                    &format!("/element/{element}/click"),
                    Some(json!({})),
                )
                .await;
            let intercepted = answer["error"] == "element click intercepted";
            if !intercepted {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot("click-intercepted").await;
                panic!("the click stayed intercepted: {answer}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types `text` into an element, as key presses.
    pub async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The element that has the keyboard focus.
    pub async fn focused(&self) -> String {
        let found = self.script("return document.activeElement;").await;
        found[ELEMENT]
            .as_str()
            .expect("some element has the focus")
            .to_owned()
    }

    /// Presses Tab (Shift+Tab when `back`) until the element with this test
    /// id has the focus, as a keyboard user moves; returns that element.
    pub async fn tab_to(&self, test_id: &str, back: bool) -> String {
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

    /// Runs a script that ends by calling its last argument, and returns what it passed.
    pub async fn script_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
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
        let shot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        self.script("clearInterval(window.screenshotNudge); document.getElementById('screenshot-nudge').remove();")
            .await;
        if let Some(data) = shot.as_str() {
            if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(data) {
                let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
            }
        }
    }

    /// Ends the session (which closes the app) and stops tauri-driver.
    pub async fn close(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
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
