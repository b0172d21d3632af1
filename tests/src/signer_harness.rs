//! Tests that need the Linux signer set-up (`scripts/with-signer.sh`: a
//! private system bus with polkitd and the signer, the test as a desktop
//! user of its own). Run from cargo, such a test runs its own binary again
//! inside the harness (as root, through `sudo` when not root); inside, it
//! does its work.

use std::path::PathBuf;
use std::process::Command;

/// Inside the harness, its control socket is there.
pub fn inside() -> bool {
    std::env::var_os("HESO_SIGNER_CTL").is_some()
}

/// Where cargo put the binaries of this build (`target/debug`): the test
/// binary runs from its `deps/`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_owned()
}

/// How to run test `name` of this binary inside the harness again.
pub struct Rerun<'a> {
    name: &'a str,
    /// Commands the test binary runs under, inside (e.g. `xvfb-run -a`).
    under: Vec<String>,
    /// Paths under /root the desktop user must reach (read-only).
    root_binds: Vec<String>,
    env: Vec<(String, String)>,
}

impl<'a> Rerun<'a> {
    pub fn test(name: &'a str) -> Rerun<'a> {
        Rerun {
            name,
            under: Vec::new(),
            root_binds: Vec::new(),
            env: Vec::new(),
        }
    }

    /// An environment variable for the run (the harness passes it on).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn under(mut self, command: &[&str]) -> Self {
        self.under.extend(command.iter().map(|s| s.to_string()));
        self
    }

    pub fn root_bind(mut self, path: &str) -> Self {
        self.root_binds.push(path.to_owned());
        self
    }

    /// Runs it, prints what it printed, and fails unless it passed.
    pub fn run(self) {
        let root = crate::workspace_root();
        let harness = root.join("scripts/with-signer.sh");
        // SAFETY: geteuid has no preconditions.
        let mut command = if unsafe { libc::geteuid() } == 0 {
            Command::new(&harness)
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("--preserve-env").arg(&harness);
            sudo
        };
        if !self.root_binds.is_empty() {
            let mut binds = std::env::var("HESO_SIGNER_HARNESS_ROOT_BINDS")
                .unwrap_or_else(|_| "/root/.pyenv".into());
            for path in &self.root_binds {
                binds.push(' ');
                binds.push_str(path);
            }
            command.env("HESO_SIGNER_HARNESS_ROOT_BINDS", binds);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = command
            .args(&self.under)
            .arg(std::env::current_exe().unwrap())
            .args([self.name, "--exact", "--nocapture", "--test-threads=1"])
            .env("HESO_SIGNER_BIN", bin_dir().join("heso-approver-signer"))
            .current_dir(&root)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        println!("{text}");
        assert!(out.status.success(), "inside the signer harness:\n{text}");
        assert!(
            text.contains("1 passed"),
            "the test did not run inside:\n{text}"
        );
    }
}

/// A test that runs inside the harness: from cargo it runs itself again
/// there (configured by `rerun = F;`, a `fn(Rerun) -> Rerun`), inside it runs
/// its body on a two-thread runtime.
#[macro_export]
macro_rules! signer_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $crate::signer_test!(rerun = |r| r; $(#[$meta])* fn $name() $body);
    };
    (rerun = $rerun:expr; $(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            if $crate::signer_harness::inside() {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async $body);
            } else {
                let configure: fn(
                    $crate::signer_harness::Rerun<'static>,
                ) -> $crate::signer_harness::Rerun<'static> = $rerun;
                configure($crate::signer_harness::Rerun::test(stringify!($name))).run();
            }
        }
    };
}
