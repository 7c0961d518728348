//! The checkpoints the project ships, trained with `promptlab images
//! train` (the README gives each one's command and time), built into the
//! binary so a user samples and judges at once without training.

use crate::data::DatasetKind;

/// (model kind, dataset, file name, bytes).
type Shipped = (&'static str, DatasetKind, &'static str, &'static [u8]);

const SHIPPED: &[Shipped] = &[
    (
        "cnn",
        DatasetKind::Mnist,
        "shipped/cnn-mnist.safetensors",
        include_bytes!("../checkpoints/cnn-mnist.safetensors"),
    ),
    (
        "cnn",
        DatasetKind::FashionMnist,
        "shipped/cnn-fashion-mnist.safetensors",
        include_bytes!("../checkpoints/cnn-fashion-mnist.safetensors"),
    ),
    (
        "vae",
        DatasetKind::Mnist,
        "shipped/vae-mnist.safetensors",
        include_bytes!("../checkpoints/vae-mnist.safetensors"),
    ),
    (
        "dcgan",
        DatasetKind::Mnist,
        "shipped/dcgan-mnist.safetensors",
        include_bytes!("../checkpoints/dcgan-mnist.safetensors"),
    ),
    (
        "pixelcnn",
        DatasetKind::Mnist,
        "shipped/pixelcnn-mnist.safetensors",
        include_bytes!("../checkpoints/pixelcnn-mnist.safetensors"),
    ),
    (
        "row-lstm",
        DatasetKind::Mnist,
        "shipped/row-lstm-mnist.safetensors",
        include_bytes!("../checkpoints/row-lstm-mnist.safetensors"),
    ),
    (
        "ddpm",
        DatasetKind::Mnist,
        "shipped/ddpm-mnist.safetensors",
        include_bytes!("../checkpoints/ddpm-mnist.safetensors"),
    ),
];

/// The shipped checkpoint of model `kind` on `dataset`: its file name and
/// bytes.
pub fn checkpoint(kind: &str, dataset: DatasetKind) -> Option<(&'static str, &'static [u8])> {
    SHIPPED
        .iter()
        .find(|(k, d, _, _)| *k == kind && *d == dataset)
        .map(|(_, _, name, bytes)| (*name, *bytes))
}
