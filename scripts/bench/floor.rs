//! The minimal Rust floor of `bus post`: open(O_APPEND) + flock + write + close.
use std::io::Write;
use std::os::unix::io::AsRawFd;

fn main() {
    let path = std::env::args().nth(1).expect("usage: floor-rs FILE");
    let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    // SAFETY: flock on a descriptor we own.
    unsafe extern "C" {
        fn flock(fd: i32, op: i32) -> i32;
    }
    assert_eq!(unsafe { flock(f.as_raw_fd(), 2) }, 0);
    f.write_all(b"---\ntype: INFO\n---\nhello from the floor\n").unwrap();
}
