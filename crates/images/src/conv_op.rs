//! A stride-1, unpadded 2-D convolution whose backward pass is made of
//! forward convolutions. candle's own backward computes the input's
//! gradient with its transposed convolution, which on the CPU is a dot
//! product per output element over the input channels — with the 8 to 64
//! channels of the lab's models, most of a training step. Here the input's
//! gradient is the convolution of the padded output gradient with the
//! kernel flipped and its channels swapped, and the kernel's gradient the
//! convolution of the input with the output gradient (both by candle's
//! im2col + gemm forward). Callers pad the input themselves.

use candle_core::{CpuStorage, CustomOp2, Device, Layout, Shape, Tensor};

/// x (b, cin, h, w) ⊛ w (cout, cin, kh, kw) → (b, cout, h−kh+1, w−kw+1).
pub fn conv2d_valid(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op2(w, ValidConv)
}

struct ValidConv;

/// The values of a CPU storage, as laid out, in a fresh tensor.
fn to_tensor(storage: &CpuStorage, layout: &Layout) -> candle_core::Result<Tensor> {
    let data = storage.as_slice::<f32>()?;
    let values: Vec<f32> = match layout.contiguous_offsets() {
        Some((start, end)) => data[start..end].to_vec(),
        None => {
            // Walk the indices in row-major order, as an odometer.
            let (dims, strides) = (layout.dims(), layout.stride());
            let count = layout.shape().elem_count();
            let mut index = vec![0usize; dims.len()];
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let offset: usize = index.iter().zip(strides).map(|(i, s)| i * s).sum();
                out.push(data[layout.start_offset() + offset]);
                for d in (0..dims.len()).rev() {
                    index[d] += 1;
                    if index[d] < dims[d] {
                        break;
                    }
                    index[d] = 0;
                }
            }
            out
        }
    };
    Tensor::from_vec(values, layout.shape(), &Device::Cpu)
}

impl CustomOp2 for ValidConv {
    fn name(&self) -> &'static str {
        "conv2d-valid"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = to_tensor(s1, l1)?.conv2d(&to_tensor(s2, l2)?, 0, 1, 1, 1)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, kh, kw) = w.dims4()?;
        // ∂x = pad(∂y, k−1) ⊛ flip(w)ᵀ: (b, cout, ·) with (cin, cout, kh, kw);
        // not computed for an input nothing trains (the images).
        let grad_x = if x.track_op() {
            let flipped = w.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
            let padded =
                grad.pad_with_zeros(2, kh - 1, kh - 1)?
                    .pad_with_zeros(3, kw - 1, kw - 1)?;
            Some(padded.conv2d(&flipped, 0, 1, 1, 1)?)
        } else {
            None
        };
        // ∂w = xᵀ ⊛ ∂yᵀ: (cin, b, h, w) with (cout, b, h', w') → (cin, cout,
        // kh, kw), then the first two swapped.
        let grad_w = x
            .transpose(0, 1)?
            .conv2d(&grad.transpose(0, 1)?, 0, 1, 1, 1)?
            .transpose(0, 1)?;
        Ok((grad_x, Some(grad_w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// Values and gradients of Σ y² equal candle's own convolution's.
    #[test]
    fn matches_candle_forward_and_backward() {
        for (cin, cout, kh, kw) in [(3, 5, 3, 3), (4, 2, 1, 3), (1, 6, 7, 7), (5, 5, 1, 1)] {
            let x =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, cin, 9, 11), &Device::Cpu).unwrap())
                    .unwrap();
            let w = Var::from_tensor(
                &Tensor::randn(0f32, 0.3, (cout, cin, kh, kw), &Device::Cpu).unwrap(),
            )
            .unwrap();
            let ours = conv2d_valid(x.as_tensor(), w.as_tensor()).unwrap();
            let theirs = x.as_tensor().conv2d(w.as_tensor(), 0, 1, 1, 1).unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            let close = |a: &Tensor, b: &Tensor| {
                let d = (a - b)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap();
                d.to_scalar::<f32>().unwrap()
            };
            assert!(close(&ours, &theirs) < 1e-4);
            // A strided input (a transposed view) reads the same values.
            let xt = x.as_tensor().transpose(2, 3).unwrap();
            let strided = conv2d_valid(&xt, w.as_tensor()).unwrap();
            let copied = conv2d_valid(&xt.contiguous().unwrap(), w.as_tensor()).unwrap();
            assert_eq!(close(&strided, &copied), 0.0);
            let g1 = ours.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = theirs.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &w] {
                let (a, b) = (g1.get(v).unwrap(), g2.get(v).unwrap());
                assert_eq!(a.dims(), b.dims());
                assert!(
                    close(a, b) < 1e-3,
                    "{cin} {cout} {kh} {kw}: {}",
                    close(a, b)
                );
            }
        }
    }
}
