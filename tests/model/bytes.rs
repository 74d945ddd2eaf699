//! Reading operations out of the bytes a fuzzer hands over: each read takes what it needs and
//! an exhausted input ends the sequence, so every byte string is a valid (possibly empty)
//! sequence of operations.

pub struct Bytes<'a>(pub &'a [u8]);

/// The longest sequence one input runs, so that no input runs for long.
const MAX_STEPS: usize = 2_000;

/// Decodes operations from `bytes` with `decode` and hands each to `step`, until the bytes run
/// out or [`MAX_STEPS`] have run.
pub fn each_op<Op>(
    bytes: &mut Bytes<'_>,
    decode: fn(&mut Bytes<'_>) -> Option<Op>,
    mut step: impl FnMut(&Op),
) {
    for _ in 0..MAX_STEPS {
        let Some(op) = decode(bytes) else { return };
        step(&op);
    }
}

impl Bytes<'_> {
    pub fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    /// A number below `bound` (which must not be zero).
    pub fn below(&mut self, bound: usize) -> Option<usize> {
        Some(usize::from(self.byte()?) % bound)
    }

    pub fn flag(&mut self) -> Option<bool> {
        Some(self.byte()? & 1 == 1)
    }

    /// A 16-bit number.
    pub fn word(&mut self) -> Option<u64> {
        Some(u64::from(self.byte()?) << 8 | u64::from(self.byte()?))
    }
}
