//! Which worker owns a key.

/// A hash of a routing key that is the same in every process, every run and every build:
/// 64-bit FNV-1a over the key's UTF-8 bytes. Keys (and input/output partitions) go to
/// worker `route_hash(key) % workers`.
///
/// ```
/// use bytewax_runtime::engine::route_hash;
/// assert_eq!(route_hash("a"), 0xaf63dc4c8601ec8c);
/// ```
pub fn route_hash(key: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    key.bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// The worker, out of `workers`, that owns `key`.
pub fn owner(key: &str, workers: usize) -> usize {
    owner_by_hash(route_hash(key), workers)
}

/// The worker, out of `workers`, that owns a key whose [`route_hash`] is `hash`.
#[inline]
pub fn owner_by_hash(hash: u64, workers: usize) -> usize {
    let workers = workers as u64;
    // The same worker either way; a mask instead of a 64-bit division for the common
    // power-of-two counts, since every keyed item of a cluster comes through here twice.
    let owner = if workers.is_power_of_two() { hash & (workers - 1) } else { hash % workers };
    owner as usize
}

/// Whether some worker out of `workers` owns none of the partitions `names`.
pub fn some_worker_idle<'a>(names: impl IntoIterator<Item = &'a str>, workers: usize) -> bool {
    let mut owned = vec![false; workers];
    names
        .into_iter()
        .for_each(|n| owned[owner(n, workers)] = true);
    owned.contains(&false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask for power-of-two counts picks exactly the worker `hash % workers` names,
    /// so no key moves between builds or between processes.
    #[test]
    fn owner_is_the_hash_modulo_the_worker_count() {
        for workers in 1..=33usize {
            for key in 0..2000 {
                let hash = route_hash(&format!("k{key}"));
                assert_eq!(owner_by_hash(hash, workers), (hash % workers as u64) as usize);
            }
            assert_eq!(owner_by_hash(u64::MAX, workers), (u64::MAX % workers as u64) as usize);
        }
    }
}
