//! Component versions for tests and benchmarks: another version of the
//! same component, and the version Summer names a `.wasm` by. Standalone, so
//! benchmark programs can include it too.

use sha2::{Digest, Sha256};

/// `wasm` with a custom section named after `tag` appended: the same
/// component, with another version (content hash).
pub fn variant(wasm: &[u8], tag: &str) -> Vec<u8> {
    let name = format!("summer-test-{tag}");
    let mut payload = leb128(name.len());
    payload.extend_from_slice(name.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The version Summer gives `wasm`: its SHA-256 in hex.
pub fn version_of(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
