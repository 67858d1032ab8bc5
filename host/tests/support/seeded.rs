//! What the seeded fuzz tests share: a small deterministic generator
//! (xorshift64*), so that a failure reproduces from its seed, and the
//! mutation of a valid input with bytes that tend to break parsers.
#![allow(dead_code)]

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Bytes that tend to break parsers.
pub const NASTY: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"1e999999",
    b"-",
    b"null",
    b"true",
    b"%",
    b"%zz",
    b"%ff",
    b"/",
    b"..",
    b"?",
    b"&",
    b"=",
    b"+",
    b"\xf0\x9f\x98\x80",
    b" ",
    b"\n",
    b"\r\n",
];

/// `seed` with a few random bytes replaced, inserted (from [`NASTY`]) or
/// removed, or cut short.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 if at < out.len() => out[at] = rng.next() as u8,
            1 => {
                let nasty = rng.pick(NASTY);
                out.splice(at..at, nasty.iter().copied());
            }
            2 if at < out.len() => {
                out.remove(at);
            }
            _ => out.truncate(at),
        }
    }
    out
}
