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

    /// Runs `fast_path` on `n` mutants of `inputs` (see [`Rng::mutate`]) and checks that between
    /// a tenth and nine tenths of them take it: the mutants must exercise both outcomes, or the
    /// test proves little. `fast_path` asserts whatever must hold for each mutant.
    pub(crate) fn mutants_take_both_paths(
        &mut self,
        inputs: &[String],
        pieces: &[&str],
        n: usize,
        fast_path: impl Fn(&str) -> bool,
    ) {
        let (mut cases, mut fast) = (0, 0);
        for _ in 0..n {
            let mut s = inputs[self.below(inputs.len())].clone();
            self.mutate(&mut s, pieces);
            cases += 1;
            fast += usize::from(fast_path(&s));
        }
        eprintln!("{fast} of {cases} mutants read by the fast path");
        assert!(
            fast > cases / 10 && fast < cases * 9 / 10,
            "{fast} of {cases} fast"
        );
    }
}
