//! Drawing binary images pixel by pixel in raster order, the sampling
//! PixelCNN and the Row LSTM share: each model says how it fills the
//! canvases (`draw`), and seeded sampling follows from it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::train::Flow;

pub trait RasterSampler {
    /// Fills `n` canvases (n × 784) pixel by pixel in raster order:
    /// `pick(image, pixel, p)` gives each pixel's value from its probability
    /// of being 1 (a seeded draw, or anything a test wants); `on_row` sees
    /// the canvas after each row (later rows still 0) and may stop early,
    /// which returns the canvas so far.
    fn draw(
        &self,
        n: usize,
        pick: impl FnMut(usize, usize, f32) -> f32,
        on_row: impl FnMut(usize, &[f32]) -> Flow,
    ) -> Result<Vec<f32>>;

    /// `n` binary samples drawn from a seeded generator, `on_row` as for
    /// [`RasterSampler::draw`].
    fn sample_rows(
        &self,
        n: usize,
        seed: u64,
        on_row: impl FnMut(usize, &[f32]) -> Flow,
    ) -> Result<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.draw(n, |_, _, p| f32::from(rng.random::<f32>() < p), on_row)
    }

    /// `n` binary samples (n × 784), seeded.
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        self.sample_rows(n, seed, |_, _| Flow::Continue(()))
    }
}
