//! The images pane: the image lab in the terminal. One sub-view per model
//! (the CNN classifier, the VAE, the DCGAN, PixelCNN, the Row LSTM and the
//! diffusion model): sample a grid and see the shipped classifier's label
//! and confidence under each image, watch PixelCNN and the Row LSTM draw
//! row by row and the diffusion model denoise step by step (and scrub back
//! through the steps), and train a model for more epochs with a live loss
//! chart and fresh samples after each epoch. The work runs on the engine's
//! images lane, so the keys and the chat never wait for it.

mod picture;
pub mod state;
pub mod update;
pub mod view;

pub use state::ImagesState;
