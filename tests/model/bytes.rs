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

    /// A short text of characters a host might hand over, hostile ones included: ASCII,
    /// control characters, XML's special characters, U+FFFE / U+FFFF, BMP and astral
    /// characters. Empty when the bytes run out.
    pub fn text(&mut self) -> Option<String> {
        let length = self.below(7)?;
        Some((0..length).map_while(|_| self.char()).collect())
    }

    fn char(&mut self) -> Option<char> {
        let byte = self.byte()?;
        let pick = usize::from(byte / 8);
        Some(match byte % 8 {
            0..=2 => char::from(b'a' + (byte / 8) % 26),
            3 => char::from(byte / 8), // U+0000 to U+001F: tab, line feed and return among them
            4 => ['&', '<', '>', '\'', '"', ' ', '#', ':', '/', '@'][pick % 10],
            5 => [
                '\u{FFFE}', '\u{FFFF}', '\u{FFFD}', '\u{7F}', '\u{85}', '\u{2028}',
            ][pick % 6],
            6 => char::from_u32(0x80 + u32::from(u16::try_from(self.word()?).unwrap_or(0)))
                .unwrap_or('\u{D7FF}'),
            _ => ['é', 'ß', '✓', '𝄞', '\u{10FFFF}', '中'][pick % 6],
        })
    }
}

/// [`Bytes::text`] of a whole byte string: a property test's way to the same alphabet.
pub fn hostile_text(raw: &[u8]) -> String {
    Bytes(raw).text().unwrap_or_default()
}
