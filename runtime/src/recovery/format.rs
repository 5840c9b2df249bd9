//! The binary format of Rust-held state in snapshots: one version byte, then MessagePack
//! (serde field names omitted). A snapshot of another version is refused with a clear error
//! rather than misread.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The version byte this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Encodes `value` for a snapshot.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    try_encode(value).expect("plain Rust state always encodes")
}

/// Encodes `value`, which may fail to (a Python object that cannot be pickled, say).
pub fn try_encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = vec![FORMAT_VERSION];
    rmp_serde::encode::write(&mut out, value).map_err(|e| format!("cannot snapshot the state: {e}"))?;
    Ok(out)
}

/// Decodes a snapshot written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => rmp_serde::from_slice(rest).map_err(|e| format!("unreadable snapshot: {e}")),
        Some((v, _)) => Err(format!(
            "snapshot format version {v} is not {FORMAT_VERSION}, the one this build reads; resume with the version that wrote it"
        )),
        None => Err("empty snapshot".into()),
    }
}

/// Opaque state bytes (a WASM step's state, already in the plan's codec) for a snapshot.
pub fn encode_bytes(state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(state.len() + 1);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(state);
    out
}

/// The state bytes back from [`encode_bytes`].
pub fn decode_bytes(bytes: &[u8]) -> Result<&[u8], String> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => Ok(rest),
        Some((v, _)) => Err(format!("snapshot format version {v} is not {FORMAT_VERSION}, the one this build reads")),
        None => Err("empty snapshot".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_versions() {
        let bytes = encode(&(7u64, "part".to_string()));
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<(u64, String)>(&bytes).unwrap(), (7, "part".to_string()));
        let mut other = bytes.clone();
        other[0] = 99;
        assert!(decode::<(u64, String)>(&other).unwrap_err().contains("version 99"));
    }
}
