//! Steps that never finish, never stop allocating, or trap.

use std::hint::black_box;

use bytewax_guest::{map, Value};

/// Loops forever; only the host's epoch deadline ends it.
#[map]
pub fn spin(_item: Value) -> Value {
    let mut turns: u64 = 0;
    loop {
        // `black_box` keeps the loop a real loop the compiler cannot fold away.
        turns = black_box(turns.wrapping_add(1));
    }
}

/// Allocates 1 MiB blocks without end, writing to each page, until the host's memory
/// cap refuses to grow memory (the allocation failure then aborts: a trap).
#[map]
pub fn hog(_item: Value) -> Value {
    const BLOCK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        hoard.push(black_box(block));
    }
}

/// Panics on every item; built with `panic = "abort"`, so the component traps.
#[map]
pub fn crash(item: Value) -> Value {
    panic!("crash: asked to fail on {item}");
}
