//! What keeps the seeds in this process: no core dumps, not dumpable (so
//! no ptrace or `/proc/<pid>/mem` by anyone but root), and a page of locked
//! memory where a seed is read for one signing call and wiped.

use std::io;

pub fn apply() -> io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls with valid arguments.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A buffer that stays in RAM (never swapped) and is wiped after each use.
pub struct LockedBuffer {
    bytes: Box<[u8; 4096]>,
}

impl LockedBuffer {
    pub fn new() -> io::Result<LockedBuffer> {
        let bytes = Box::new([0u8; 4096]);
        // SAFETY: the range is this allocation, which lives as long as self.
        let locked = unsafe { libc::mlock(bytes.as_ptr().cast(), bytes.len()) };
        if locked != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(LockedBuffer { bytes })
    }

    /// The first `len` bytes, for one use; wiped by [`LockedBuffer::wipe`].
    pub fn slice(&mut self, len: usize) -> &mut [u8] {
        &mut self.bytes[..len]
    }

    pub fn wipe(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bytes[..]);
    }
}

impl Drop for LockedBuffer {
    fn drop(&mut self) {
        self.wipe();
        // SAFETY: the same range that was locked.
        unsafe { libc::munlock(self.bytes.as_ptr().cast(), self.bytes.len()) };
    }
}
