//! Where a layer's outputs go after its epilogue: the next layer's bit rows ([`RowSink`]), the
//! next memory block's ±1 planes along time ([`Time`]), or nowhere ([`NoSink`]). Each sink
//! binarises while the values are in registers.

use crate::bitpack::{reduce8, sign_bit, words_for};
use crate::isa::Simd;

use crate::infer::plan::Memory;

/// Where a layer's outputs go after its epilogue.
pub(super) trait Sink<S: Simd> {
    /// Elements the sink takes (`i < len`).
    fn len(&self) -> usize;
    /// Elements `i .. i + 8` (`i` a multiple of 8).
    ///
    /// # Safety
    /// `i + 8 <= self.len()`.
    unsafe fn push(&mut self, s: S, i: usize, y: S::V);
    /// Element `i`.
    ///
    /// # Safety
    /// `i < self.len()`.
    unsafe fn push1(&mut self, s: S, i: usize, y: f32);
}

/// Feed elements `i0 .. i0 + n` to `sink`: 8 at a time where `i0 + c` is a multiple of 8
/// (`vec(c)`, `c + 8 <= n`), one at a time elsewhere (`one(c)`, `c < n`), in increasing order.
#[inline(always)]
pub(super) fn segment<S: Simd, K: Sink<S>>(
    s: S,
    sink: &mut K,
    i0: usize,
    n: usize,
    mut vec: impl FnMut(usize) -> S::V,
    mut one: impl FnMut(usize) -> f32,
) {
    assert!(i0 + n <= sink.len(), "sink too short");
    let mut c = 0;
    while c < n && !(i0 + c).is_multiple_of(8) {
        // SAFETY: i0 + c < i0 + n <= sink.len() (asserted above).
        unsafe { sink.push1(s, i0 + c, one(c)) };
        c += 1;
    }
    while c + 8 <= n {
        // SAFETY: i0 + c + 8 <= i0 + n <= sink.len().
        unsafe { sink.push(s, i0 + c, vec(c)) };
        c += 8;
    }
    while c < n {
        // SAFETY: i0 + c < i0 + n <= sink.len().
        unsafe { sink.push1(s, i0 + c, one(c)) };
        c += 1;
    }
}

/// Nowhere (the last layer before the classifier).
pub(super) struct NoSink;

impl<S: Simd> Sink<S> for NoSink {
    fn len(&self) -> usize {
        usize::MAX
    }
    /// # Safety
    /// As [`Sink::push`].
    #[inline(always)]
    unsafe fn push(&mut self, _: S, _: usize, _: S::V) {}
    /// # Safety
    /// As [`Sink::push1`].
    #[inline(always)]
    unsafe fn push1(&mut self, _: S, _: usize, _: f32) {}
}

/// `(b1 as ±1, r)` of one element: `b1 = sgn(y - tau0)`, `r = (y - b1) - tau1`.
#[inline(always)]
fn binarize1(y: f32, t0: f32, t1: f32) -> (f32, f32) {
    let s1 = if sign_bit(y - t0) { -1.0 } else { 1.0 };
    (s1, (y - s1) - t1)
}

/// The same on 8 lanes: `(mask of b1 = -1, b1 as ±1, r)`.
#[inline(always)]
fn binarize8<S: Simd>(s: S, y: S::V, t0: S::V, t1: S::V) -> (S::M, S::V, S::V) {
    let m1 = s.nge0(s.sub(y, t0));
    let s1 = s.select(m1, s.splat(-1.0), s.splat(1.0));
    (m1, s1, s.sub(s.sub(y, s1), t1))
}

/// Byte `k` of a bit row: bits `8k .. 8k + 8` (bit `i` is bit `i % 64` of word `i / 64`).
#[inline(always)]
fn set_byte(words: &mut [u64], k: usize, v: u8) {
    let w = &mut words[k / 8];
    let shift = 8 * (k % 8);
    *w = (*w & !(0xff << shift)) | (u64::from(v) << shift);
}

/// The same as [`set_byte`] without the bounds check, as one byte store where the words are
/// little-endian (every target the kernels run on).
///
/// # Safety
/// `k < 8 * words.len()`.
#[inline(always)]
unsafe fn set_byte_unchecked(words: &mut [u64], k: usize, v: u8) {
    debug_assert!(k < 8 * words.len());
    if cfg!(target_endian = "little") {
        // SAFETY: byte k of the words is inside the slice (the caller's contract); on a
        // little-endian target it holds bits 8 (k % 8) .. of word k / 8.
        unsafe { *words.as_mut_ptr().cast::<u8>().add(k) = v };
    } else {
        set_byte(words, k, v);
    }
}

/// Binarisation of one row into two bit rows, with `sum |r|` in the canonical lanes (element
/// `i` in lane `i % 8`, each lane summed in increasing `i`, combined by [`reduce8`]): exactly
/// [`crate::bitpack::binarize_row`]. Elements must arrive in increasing order without gaps;
/// every word of the row is written (no zeroing needed). A vector push stores its 8 bits of
/// each plane as one byte; single pushes collect theirs in a pending byte.
pub(super) struct RowSink<'a, S: Simd> {
    s: S,
    t0: &'a [f32],
    t1: &'a [f32],
    b1: &'a mut [u64],
    b2: &'a mut [u64],
    /// The lane sums live in `acc` (after vector pushes) or `lanes` (after single pushes).
    acc: S::V,
    lanes: [f32; 8],
    in_vec: bool,
    /// The byte that single pushes are filling (`None`: no such byte).
    pending: Option<usize>,
    cur1: u8,
    cur2: u8,
}

impl<'a, S: Simd> RowSink<'a, S> {
    #[inline(always)]
    pub(super) fn new(
        s: S,
        t0: &'a [f32],
        t1: &'a [f32],
        b1: &'a mut [u64],
        b2: &'a mut [u64],
    ) -> Self {
        let n = t0.len();
        assert!(
            t1.len() == n && b1.len() >= words_for(n) && b2.len() >= words_for(n),
            "binariser sizes"
        );
        Self {
            s,
            t0,
            t1,
            b1,
            b2,
            acc: s.splat(0.0),
            lanes: [0.0; 8],
            in_vec: true,
            pending: None,
            cur1: 0,
            cur2: 0,
        }
    }

    /// Store the byte single pushes were filling, if any.
    #[inline(always)]
    fn flush(&mut self) {
        if let Some(k) = self.pending.take() {
            set_byte(self.b1, k, self.cur1);
            set_byte(self.b2, k, self.cur2);
        }
    }

    /// Store the last bits, zero the rest of the last word, and return `sum |r|` over the row.
    #[inline(always)]
    pub(super) fn finish(mut self) -> f32 {
        self.flush();
        let n = self.t0.len();
        for k in n.div_ceil(8)..8 * words_for(n) {
            set_byte(self.b1, k, 0);
            set_byte(self.b2, k, 0);
        }
        if self.in_vec {
            self.lanes = self.s.to_array(self.acc);
        }
        reduce8(self.lanes)
    }
}

impl<S: Simd> Sink<S> for RowSink<'_, S> {
    fn len(&self) -> usize {
        self.t0.len()
    }

    /// # Safety
    /// As [`Sink::push`].
    #[inline(always)]
    unsafe fn push(&mut self, s: S, i: usize, y: S::V) {
        debug_assert!(i.is_multiple_of(8) && i + 8 <= self.t0.len());
        if !self.in_vec {
            // SAFETY: 8 floats.
            self.acc = unsafe { s.load(self.lanes.as_ptr()) };
            self.in_vec = true;
        }
        // SAFETY: i + 8 <= len (the caller's contract).
        let (t0, t1) = unsafe {
            (
                s.load(self.t0.as_ptr().add(i)),
                s.load(self.t1.as_ptr().add(i)),
            )
        };
        let (m1, _, r) = binarize8(s, y, t0, t1);
        self.acc = s.add(self.acc, s.abs(r));
        self.flush();
        // SAFETY: i + 8 <= len, and the rows hold words_for(len) words (checked in `new`).
        unsafe {
            set_byte_unchecked(self.b1, i / 8, s.bits(m1) as u8);
            set_byte_unchecked(self.b2, i / 8, s.bits(s.nge0(r)) as u8);
        }
    }

    /// # Safety
    /// As [`Sink::push1`].
    #[inline(always)]
    unsafe fn push1(&mut self, s: S, i: usize, y: f32) {
        if self.in_vec {
            self.lanes = s.to_array(self.acc);
            self.in_vec = false;
        }
        // SAFETY: i < len (the caller's contract).
        let (t0, t1) = unsafe { (*self.t0.get_unchecked(i), *self.t1.get_unchecked(i)) };
        let (s1, r) = binarize1(y, t0, t1);
        self.lanes[i % 8] += r.abs();
        if self.pending != Some(i / 8) {
            self.flush();
            self.pending = Some(i / 8);
            self.cur1 = 0;
            self.cur2 = 0;
        }
        self.cur1 |= u8::from(s1 < 0.0) << (i % 8);
        self.cur2 |= u8::from(sign_bit(r)) << (i % 8);
    }
}

/// The next memory block's binarisation along time: its planes as ±1 in `[t + taps - 1][m]`
/// (the zero pads are constants of the layer) and `sum |r|` per channel, added in time order:
/// exactly the unfused binarisation of the padded input.
pub(super) struct Time<'a> {
    t0: &'a [f32],
    t1: &'a [f32],
    b1f: &'a mut [f32],
    b2f: &'a mut [f32],
    s2m: &'a mut [f32],
    /// Leading pad rows.
    lead: usize,
}

impl<'a> Time<'a> {
    /// Prepare the planes of memory block `mem` (none for a float block or the classifier):
    /// write its pad rows and start the sums with the leading pads.
    pub(super) fn begin(
        mem: Option<&'a Memory>,
        b1f: &'a mut [f32],
        b2f: &'a mut [f32],
        s2m: &'a mut [f32],
        m: usize,
        taps: usize,
    ) -> Option<Time<'a>> {
        let mem = mem?;
        let (bin, pad) = (mem.bin.as_ref()?, mem.pad.as_ref()?);
        let lead = (taps - 1) / 2;
        let rows = b1f.len() / m;
        for r in (0..lead).chain(rows - lead..rows) {
            b1f[r * m..(r + 1) * m].copy_from_slice(&pad.b1);
            b2f[r * m..(r + 1) * m].copy_from_slice(&pad.b2);
        }
        s2m.copy_from_slice(&pad.lead);
        Some(Time {
            t0: &bin.tau0,
            t1: &bin.tau1,
            b1f,
            b2f,
            s2m,
            lead,
        })
    }

    /// The sink of time step `tt`.
    pub(super) fn row(&mut self, tt: usize) -> TimeSink<'_> {
        let m = self.s2m.len();
        let r = (self.lead + tt) * m..(self.lead + tt + 1) * m;
        TimeSink {
            t0: &self.t0[..m],
            t1: &self.t1[..m],
            b1: &mut self.b1f[r.clone()],
            b2: &mut self.b2f[r],
            s2m: &mut self.s2m[..],
        }
    }
}

/// One time step of [`Time`] (all slices `m` long).
pub(super) struct TimeSink<'a> {
    t0: &'a [f32],
    t1: &'a [f32],
    b1: &'a mut [f32],
    b2: &'a mut [f32],
    s2m: &'a mut [f32],
}

impl<S: Simd> Sink<S> for TimeSink<'_> {
    fn len(&self) -> usize {
        self.t0.len()
    }

    /// # Safety
    /// As [`Sink::push`].
    #[inline(always)]
    unsafe fn push(&mut self, s: S, c: usize, y: S::V) {
        // SAFETY: c + 8 <= m, the length of every slice.
        unsafe {
            let (t0, t1) = (
                s.load(self.t0.as_ptr().add(c)),
                s.load(self.t1.as_ptr().add(c)),
            );
            let (_, s1, r) = binarize8(s, y, t0, t1);
            let b2 = s.select(s.nge0(r), s.splat(-1.0), s.splat(1.0));
            s.store(self.b1.as_mut_ptr().add(c), s1);
            s.store(self.b2.as_mut_ptr().add(c), b2);
            let acc = self.s2m.as_mut_ptr().add(c);
            s.store(acc, s.add(s.load(acc), s.abs(r)));
        }
    }

    /// # Safety
    /// As [`Sink::push1`].
    #[inline(always)]
    unsafe fn push1(&mut self, _: S, c: usize, y: f32) {
        let (s1, r) = binarize1(y, self.t0[c], self.t1[c]);
        self.b1[c] = s1;
        self.b2[c] = if sign_bit(r) { -1.0 } else { 1.0 };
        self.s2m[c] += r.abs();
    }
}
