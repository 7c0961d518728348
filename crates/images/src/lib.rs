//! promptlab's image-model lab, on candle and the CPU: the MNIST and
//! Fashion-MNIST loaders and their fetch step, the models (each its own
//! file, shapes beside the code), their training loops, checkpoints and the
//! measures the lab reports. Nothing here knows the language models.

pub mod autoregressive_train;
pub mod cnn;
pub mod cnn_train;
pub mod conv_op;
pub mod data;
pub mod dcgan;
pub mod dcgan_train;
pub mod ddpm;
pub mod ddpm_train;
pub mod error;
pub mod fetch;
pub mod layers;
pub mod metrics;
pub mod params;
pub mod pixelcnn;
pub mod raster;
pub mod rng;
pub mod row_lstm;
pub mod shipped;
pub mod train;
pub mod vae;
pub mod vae_train;
pub mod zoo;

pub use error::{ImagesError, Result};
