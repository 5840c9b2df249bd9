//! Keeps CPython's freed object arenas for reuse instead of unmapping them at once.
//!
//! CPython's small-object allocator carves objects out of 1 MiB arenas it maps from the
//! OS, and unmaps an arena as soon as its last object dies. A flow's batch of Python
//! values (a few MiB of `str`s and tuples) is built and dropped again and again, so
//! without this every batch maps fresh arenas and the kernel zeroes each of their pages
//! on first touch: in the seed wordcount that was ~330,000 page faults, about a tenth
//! of the run. `install` wraps the interpreter's arena allocator so up to
//! [`CACHED_BYTES`] of freed arenas stay mapped and are handed out again.
//!
//! CPython calls these hooks with the GIL held; the mutex is for soundness, never
//! contended.

use std::ffi::c_void;
use std::sync::{Mutex, Once, OnceLock};

use pyo3::ffi;

/// At most this much freed arena memory is kept mapped: more than one batch's worth of
/// Python objects, little next to a process running a flow.
pub const CACHED_BYTES: usize = 64 << 20;

/// The interpreter's own arena allocator, which maps and unmaps the memory. Its context
/// is kept as an address: it is CPython's, only ever passed back to CPython's functions.
struct OsArenas {
    ctx: usize,
    alloc: extern "C" fn(*mut c_void, usize) -> *mut c_void,
    free: extern "C" fn(*mut c_void, *mut c_void, usize),
}

static OS_ARENAS: OnceLock<OsArenas> = OnceLock::new();

/// Freed arenas kept for reuse: (address, size).
static FREED: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Puts the caching allocator in front of the interpreter's, once per process. Arenas
/// mapped before it is installed are released through it too: both hand the same kind
/// of mapping to the same `free`.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let mut os = ffi::PyObjectArenaAllocator {
            ctx: std::ptr::null_mut(),
            alloc: None,
            free: None,
        };
        // SAFETY: called with the GIL held (from module initialisation); CPython fills in
        // the struct.
        #[allow(unsafe_code)]
        unsafe {
            ffi::PyObject_GetArenaAllocator(&mut os)
        };
        let (Some(alloc), Some(free)) = (os.alloc, os.free) else {
            return;
        };
        if OS_ARENAS.set(OsArenas { ctx: os.ctx as usize, alloc, free }).is_err() {
            return;
        }
        let mut caching = ffi::PyObjectArenaAllocator {
            ctx: std::ptr::null_mut(),
            alloc: Some(alloc_arena),
            free: Some(free_arena),
        };
        // SAFETY: as above; CPython copies the struct, and the two functions stay valid
        // for the life of the process.
        #[allow(unsafe_code)]
        unsafe {
            ffi::PyObject_SetArenaAllocator(&mut caching)
        };
    });
}

extern "C" fn alloc_arena(_ctx: *mut c_void, size: usize) -> *mut c_void {
    if let Ok(mut freed) = FREED.lock() {
        if let Some(at) = freed.iter().rposition(|&(_, len)| len == size) {
            return freed.swap_remove(at).0 as *mut c_void;
        }
    }
    let os = OS_ARENAS.get().expect("installed before use");
    (os.alloc)(os.ctx as *mut c_void, size)
}

extern "C" fn free_arena(_ctx: *mut c_void, ptr: *mut c_void, size: usize) {
    if let Ok(mut freed) = FREED.lock() {
        let kept: usize = freed.iter().map(|&(_, len)| len).sum();
        if kept + size <= CACHED_BYTES {
            freed.push((ptr as usize, size));
            return;
        }
    }
    let os = OS_ARENAS.get().expect("installed before use");
    (os.free)(os.ctx as *mut c_void, ptr, size)
}
