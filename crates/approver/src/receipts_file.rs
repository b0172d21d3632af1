//! Reading receipts from a `.json` file (one receipt) or a `.jsonl` file (one
//! receipt per line, blank lines ignored).

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// One receipt's raw bytes and where it came from (1-based line for `.jsonl`).
pub struct RawReceipt {
    pub line: Option<usize>,
    pub bytes: Vec<u8>,
}

/// True when the path names a JSON Lines file.
pub fn is_jsonl(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("jsonl"))
}

/// Calls `each` for every receipt in the file, in order.
pub fn for_each_receipt(path: &Path, mut each: impl FnMut(RawReceipt)) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    if !is_jsonl(path) {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        each(RawReceipt { line: None, bytes });
        return Ok(());
    }
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Positions in parse errors then count within the line itself.
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        each(RawReceipt {
            line: Some(line),
            bytes: std::mem::take(&mut buf),
        });
    }
}
