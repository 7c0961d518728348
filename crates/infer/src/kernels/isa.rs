//! Which instruction set the kernels use, detected at run time.

use std::sync::OnceLock;

/// A family of kernels. Ordered from the most portable to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust: any CPU.
    Portable,
    /// x86-64 with AVX2, FMA and F16C (Haswell, Zen 1 and later).
    Avx2,
    /// x86-64 with AVX-512 F and BW on top of AVX2 (Skylake-SP, Ice Lake, Zen 4 and later).
    Avx512,
    /// AVX-512 with VL and VNNI (Cascade Lake, Ice Lake, Zen 4 and later):
    /// quantized rows by integer dot products over 21-bit activations.
    Avx512Vnni,
}

/// Names accepted by `PROMPTLAB_KERNELS`.
pub const KERNELS_VAR: &str = "PROMPTLAB_KERNELS";

impl Isa {
    pub const ALL: [Isa; 4] = [Isa::Portable, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512-vnni",
        }
    }

    pub fn parse(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == name.trim())
    }

    /// Whether this CPU runs these kernels.
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                Isa::Avx2.supported()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                Isa::Avx512.supported()
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest kernels this CPU runs.
    pub fn best() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|i| i.supported())
            .unwrap_or(Isa::Portable)
    }

    /// The kernels in use: the widest the CPU runs, or a narrower family
    /// named by `PROMPTLAB_KERNELS` (`portable`, `avx2`, `avx512`,
    /// `avx512-vnni`) to compare
    /// them. A name the CPU cannot run, or an unknown one, is ignored.
    pub fn active() -> Isa {
        static ACTIVE: OnceLock<Isa> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let best = Isa::best();
            std::env::var(KERNELS_VAR)
                .ok()
                .and_then(|v| Isa::parse(&v))
                .filter(|i| i.supported() && *i <= best)
                .unwrap_or(best)
        })
    }

    /// Every family this CPU runs, for tests that compare each one with the
    /// reference.
    pub fn all_supported() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.supported()).collect()
    }
}
