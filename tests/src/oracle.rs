//! A running Python helper driving the vendor package over JSON lines.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// The vendor package as a verifier and signer (`vendor_oracle.py`).
    pub fn start() -> Self {
        Self::script("vendor_oracle.py")
    }

    /// The vendor SDK as an operator (`sdk_operator.py`).
    pub fn sdk_operator() -> Self {
        Self::script("sdk_operator.py")
    }

    /// The vendor's suspend/resume layer as the writer and judge of session
    /// chains (`chain_operator.py`).
    pub fn chain_operator() -> Self {
        Self::script("chain_operator.py")
    }

    fn script(name: &str) -> Self {
        let script = crate::workspace_root().join("tests/oracle").join(name);
        let mut child = Command::new(crate::vendor_python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the vendor oracle");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Oracle {
            child,
            stdin,
            stdout,
        }
    }

    /// Send one request; returns the answer (`ok` true or false).
    pub fn ask(&mut self, request: Value) -> Value {
        serde_json::to_writer(&mut self.stdin, &request).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the vendor oracle exited");
        serde_json::from_str(&line).unwrap()
    }

    /// Like `ask`, but the vendor must succeed.
    pub fn must(&mut self, request: Value) -> Value {
        let answer = self.ask(request.clone());
        assert_eq!(answer["ok"], true, "vendor refused {request}: {answer}");
        answer
    }

    /// The vendor's verdict for receipt text: `(kind, trust_level)`.
    pub fn verdict(&mut self, receipt: &str) -> (String, Option<String>) {
        let answer = self.must(json!({"op": "verify", "receipt": receipt}));
        let verdict = &answer["verdict"];
        (
            verdict["kind"].as_str().unwrap().to_owned(),
            verdict["trust_level"].as_str().map(str::to_owned),
        )
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
