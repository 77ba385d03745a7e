//! A tiny deterministic PRNG (xorshift64*) for the mutation tests, so they are the same on
//! every run.

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

impl Rng {
    /// One to three random edits of `s`: insert one of `pieces`, delete one to four characters,
    /// or replace one character by a piece (always at character boundaries).
    pub(crate) fn mutate(&mut self, s: &mut String, pieces: &[&str]) {
        for _ in 0..1 + self.below(3) {
            let mut at = self.below(s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            let (width, with) = match self.below(3) {
                0 => {
                    s.insert_str(at, pieces[self.below(pieces.len())]);
                    continue;
                }
                1 => (1 + self.below(4), ""),
                _ => (1, pieces[self.below(pieces.len())]),
            };
            let mut end = (at + width).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            s.replace_range(at..end, with);
        }
    }
}
