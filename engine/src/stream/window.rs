//! Sliding windows on an absolute sample grid, fed in chunks of any size.

/// Cuts a stream into windows of `window` samples ending at `hop, 2*hop, 3*hop, ...`
/// (sample indices from the start of the stream; samples before the start are zeros).
///
/// Which windows exist depends only on the samples pushed so far, never on how they were
/// chunked. Only the last `window` samples (plus some slack, trimmed in batches) are kept.
#[derive(Clone, Debug)]
pub struct Windower {
    window: usize,
    hop: usize,
    /// Samples `[buf_start, total)`.
    buf: Vec<f32>,
    buf_start: u64,
    total: u64,
    next_end: u64,
    /// The first windows reach before the stream start and are assembled here.
    scratch: Vec<f32>,
}

impl Windower {
    /// `window` and `hop` in samples; `1 <= hop <= window`.
    pub fn new(window: usize, hop: usize) -> Result<Windower, String> {
        if window == 0 || hop == 0 || hop > window {
            return Err(format!(
                "need 1 <= hop <= window, got hop {hop}, window {window}"
            ));
        }
        Ok(Windower {
            window,
            hop,
            buf: Vec::with_capacity(3 * window),
            buf_start: 0,
            total: 0,
            next_end: hop as u64,
            scratch: vec![0.0; window],
        })
    }

    pub fn window(&self) -> usize {
        self.window
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Samples pushed so far.
    pub fn position(&self) -> u64 {
        self.total
    }

    /// Where the next window will end.
    pub fn next_end(&self) -> u64 {
        self.next_end
    }

    /// Forget everything; the next sample pushed is sample 0 again.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf_start = 0;
        self.total = 0;
        self.next_end = self.hop as u64;
    }

    /// Append `samples` and call `f(end, window)` for every window that is now complete, in
    /// order. `end` is the index one past the window's last sample. If `f` fails, the
    /// remaining samples of this call are still stored and the failed window is offered
    /// again by the next push.
    pub fn push<E>(
        &mut self,
        samples: &[f32],
        mut f: impl FnMut(u64, &[f32]) -> Result<(), E>,
    ) -> Result<(), E> {
        // Bounded pieces keep the buffer small even when a whole file is pushed at once.
        let piece_len = self.window.max(4096);
        let mut rest = samples;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(piece_len.min(rest.len()));
            self.buf.extend_from_slice(piece);
            self.total += piece.len() as u64;
            rest = tail;
            if let Err(e) = self.emit(&mut f) {
                // Keep the samples anyway: the stream position must not depend on errors.
                self.buf.extend_from_slice(rest);
                self.total += rest.len() as u64;
                return Err(e);
            }
            self.trim();
        }
        Ok(())
    }

    fn emit<E>(&mut self, f: &mut impl FnMut(u64, &[f32]) -> Result<(), E>) -> Result<(), E> {
        while self.next_end <= self.total {
            let end = self.next_end;
            let start = end as i64 - self.window as i64;
            let local_end = (end - self.buf_start) as usize;
            if start >= self.buf_start as i64 {
                let local_start = (start - self.buf_start as i64) as usize;
                f(end, &self.buf[local_start..local_end])?;
            } else {
                // Only at the very start (buf_start is 0 until the first trim): zeros first.
                let lead = (self.buf_start as i64 - start) as usize;
                self.scratch[..lead].fill(0.0);
                self.scratch[lead..].copy_from_slice(&self.buf[..local_end]);
                f(end, &self.scratch)?;
            }
            self.next_end += self.hop as u64;
        }
        Ok(())
    }

    /// Drop samples no future window needs, in batches of at least one window (amortised).
    fn trim(&mut self) {
        let keep_from = self.next_end.saturating_sub(self.window as u64);
        let droppable = keep_from.saturating_sub(self.buf_start) as usize;
        if droppable >= self.window {
            self.buf.drain(..droppable);
            self.buf_start += droppable as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(w: &mut Windower, x: &[f32], chunk: usize) -> Vec<(u64, Vec<f32>)> {
        let mut out = Vec::new();
        for piece in x.chunks(chunk) {
            w.push(piece, |end, win| {
                out.push((end, win.to_vec()));
                Ok::<_, ()>(())
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn windows_end_on_the_hop_grid_with_zeros_before_the_start() {
        let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        let got = windows(&mut Windower::new(4, 3).unwrap(), &x, 10);
        let ends: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(ends, vec![3, 6, 9]);
        assert_eq!(got[0].1, vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(got[1].1, vec![3.0, 4.0, 5.0, 6.0]);
        assert_eq!(got[2].1, vec![6.0, 7.0, 8.0, 9.0]);
    }

    #[test]
    fn chunk_sizes_do_not_change_the_windows() {
        let x: Vec<f32> = (0..5000).map(|v| (v as f32 * 0.37).sin()).collect();
        let whole = windows(&mut Windower::new(400, 160).unwrap(), &x, x.len());
        for chunk in [1, 7, 159, 160, 161, 399, 400, 401, 4999] {
            let got = windows(&mut Windower::new(400, 160).unwrap(), &x, chunk);
            assert_eq!(got, whole, "chunk {chunk}");
        }
        assert_eq!(whole.len(), 5000 / 160);
    }

    #[test]
    fn a_failed_window_is_offered_again() {
        let mut w = Windower::new(4, 2).unwrap();
        let mut seen = Vec::new();
        let r = w.push(&[1.0; 4], |end, _| {
            if end == 4 {
                return Err(end);
            }
            seen.push(end);
            Ok(())
        });
        assert_eq!(r, Err(4));
        w.push(&[1.0; 2], |end, _| {
            seen.push(end);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(seen, vec![2, 4, 6]);
    }

    #[test]
    fn invalid_sizes_are_refused() {
        assert!(Windower::new(0, 1).is_err());
        assert!(Windower::new(4, 0).is_err());
        assert!(Windower::new(4, 5).is_err());
    }
}
