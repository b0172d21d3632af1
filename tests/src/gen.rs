//! Random content JSON *text*, written by hand so that the spelling of numbers
//! and strings (exponents, `-0`, integers past 2^53, escaped and raw astral
//! characters, U+2028) reaches both parsers exactly as generated.

use rand::rngs::StdRng;
use rand::Rng;

const VERBS: [&str; 7] = [
    "llm_call",
    "tool_call",
    "http_request",
    "payment",
    "data_export",
    "account_change",
    "delete",
];

/// Number spellings that pin the ECMAScript formatting rules.
const NUMBER_SPELLINGS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "0.0",
    "1",
    "-1",
    "100",
    "1.0",
    "1.5",
    "0.1",
    "-0.25",
    "1e21",
    "1E21",
    "1e+21",
    "1e20",
    "1e-7",
    "1e-6",
    "1.5e-6",
    "123456789.125",
    "5e-324",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "9007199254740991",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "3.141592653589793238462643383279",
    "4200.50",
    "1e400",
    "-1e400",
    "1E-400",
    "0.000001",
    "999999999999999999999",
    "1e+0",
    "10e-1",
    "0.30000000000000004",
];

/// Characters that stress string handling, written raw or as escapes.
const SPECIAL_CHARS: &[&str] = &[
    "\\n",
    "\\t",
    "\\\"",
    "\\\\",
    "\\/",
    "\\b",
    "\\f",
    "\\r",
    "\\u0000",
    "\\u001f",
    "\\u007f",
    "\u{7f}",
    "\\u2028",
    "\u{2028}",
    "\u{2029}",
    "\\ud83d\\ude00",
    "😀",
    "𝄞",
    "\\uD834\\uDD1E",
    "é",
    "\\u00e9",
    "☃",
    "中文",
    "\u{e000}",
    "\u{ffff}",
    "\\uffff",
    "<img src=x onerror=alert(1)>",
    "[redacted]",
    " ",
    "'",
    "\u{feff}",
];

pub struct Gen {
    pub rng: StdRng,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Gen {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    /// A JSON string literal (with quotes).
    pub fn string(&mut self, max_len: usize) -> String {
        let len = if self.chance(0.03) {
            self.rng.random_range(1000..6000)
        } else {
            self.rng.random_range(0..=max_len)
        };
        let mut out = String::from("\"");
        for _ in 0..len {
            if self.chance(0.2) {
                out.push_str(self.pick(SPECIAL_CHARS));
            } else if self.chance(0.1) {
                // Any BMP scalar outside the surrogates and controls, raw.
                let c = loop {
                    if let Some(c) = char::from_u32(self.rng.random_range(0x80..0x10000)) {
                        break c;
                    }
                };
                out.push(c);
            } else {
                out.push(self.rng.random_range(b' '..=b'~') as char);
                if out.ends_with('"') || out.ends_with('\\') {
                    out.pop();
                    out.push('x');
                }
            }
        }
        out.push('"');
        out
    }

    pub fn number(&mut self) -> String {
        if self.chance(0.5) {
            return self.pick(NUMBER_SPELLINGS).to_owned();
        }
        match self.rng.random_range(0..4) {
            0 => self.rng.random_range(-1_000_000i64..1_000_000).to_string(),
            1 => self.rng.random::<u64>().to_string(),
            2 => {
                let f = f64::from_bits(self.rng.random::<u64>());
                if f.is_finite() {
                    format!("{f:e}")
                } else {
                    "0.5".to_owned()
                }
            }
            _ => format!("{}", self.rng.random_range(-1e6..1e6)),
        }
    }

    /// Any JSON value, nested up to `depth`.
    pub fn value(&mut self, depth: u32) -> String {
        let choice = if depth == 0 {
            self.rng.random_range(0..4)
        } else {
            self.rng.random_range(0..6)
        };
        match choice {
            0 => self.pick(&["null", "true", "false"]).to_owned(),
            1 => self.number(),
            2 | 3 => self.string(24),
            4 => {
                let n = self.rng.random_range(0..5);
                let items: Vec<String> = (0..n).map(|_| self.value(depth - 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => self.object(depth - 1, 5),
        }
    }

    pub fn object(&mut self, depth: u32, max_keys: usize) -> String {
        let n = self.rng.random_range(0..=max_keys);
        let members: Vec<String> = (0..n)
            .map(|_| {
                let key = self.string(8);
                format!("{key}:{}", self.value(depth))
            })
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// A content object in text form. `agent_identity` is the operator key.
    /// `l0_awaiting` forces a promotable suspended body.
    pub fn content(&mut self, agent_identity: &str, l0_awaiting: bool) -> String {
        let mut action = vec![
            format!("\"verb\":\"{}\"", self.pick(&VERBS)),
            format!("\"tool_name\":{}", self.string(20)),
            format!("\"workflow\":{}", self.string(12)),
            format!("\"account\":{}", self.string(12)),
            format!("\"fields\":{}", self.object(3, 8)),
        ];
        if self.chance(0.5) {
            action.push(format!("\"target_host\":{}", self.string(16)));
        }
        if self.chance(0.2) {
            action.push(format!("\"domain\":{}", self.string(8)));
        }
        if self.chance(0.2) {
            action.push(format!("\"action\":{}", self.string(8)));
        }
        if self.chance(0.1) {
            action.push(format!("\"result_hash\":{}", self.string(8)));
        }
        if self.chance(0.1) {
            action.push("\"error\":null".to_owned());
        }
        let conditions: Vec<String> = (0..self.rng.random_range(0..4))
            .map(|_| {
                format!(
                    "{{\"field\":{},\"op\":{},\"value\":{}}}",
                    self.string(8),
                    self.string(3),
                    self.value(2)
                )
            })
            .collect();
        let decision_path = if l0_awaiting {
            "require_approval"
        } else {
            self.pick(&["allow", "block", "redact", "require_approval"])
        };
        let mut members = vec![
            "\"action_version\":\"heso-action/2.0\"".to_owned(),
            format!("\"captured_at\":{}", self.string(24)),
            format!("\"agent_identity\":\"{agent_identity}\""),
            format!("\"action\":{{{}}}", action.join(",")),
            format!(
                "\"policy\":{{\"rule_id\":{},\"rule_display\":{},\"matched_conditions\":[{}],\"decision_path\":\"{decision_path}\"}}",
                self.string(16),
                self.string(60),
                conditions.join(",")
            ),
            "\"trust_level\":\"L0\"".to_owned(),
            "\"action_hash\":\"\"".to_owned(),
        ];
        if self.chance(0.25) {
            let commit = self.chance(0.5);
            let markers: Vec<String> = (0..self.rng.random_range(0..3))
                .map(|_| {
                    let (algorithm, commitment) = if commit {
                        ("salted-blake3/v1", hex::encode(self.rng.random::<[u8; 32]>()))
                    } else {
                        ("drop/v1", String::new())
                    };
                    format!(
                        "{{\"field_path\":{},\"algorithm\":\"{algorithm}\",\"commitment\":\"{commitment}\"}}",
                        self.string(10)
                    )
                })
                .collect();
            let mode = if commit {
                "commit_and_reveal"
            } else {
                "destructive"
            };
            members.push(format!(
                "\"redaction\":{{\"mode\":\"{mode}\",\"markers\":[{}]}}",
                markers.join(",")
            ));
        }
        if self.chance(0.15) {
            members.push(format!(
                "\"session_id\":{},\"seq\":{},\"prev_receipt_hash\":\"{}\"",
                self.string(8),
                self.rng.random::<u32>(),
                hex::encode(self.rng.random::<[u8; 32]>())
            ));
        }
        if self.chance(0.1) {
            members.push("\"nonce\":null".to_owned());
        }
        // The member order of the text must not matter.
        let rotate = self.rng.random_range(0..members.len());
        members.rotate_left(rotate);
        format!("{{{}}}", members.join(","))
    }
}
