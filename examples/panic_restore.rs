//! Enters the terminal app's mode exactly as `promptlab` does, then panics:
//! the panic hook must restore the terminal before the message is printed.
//! Run by `tests/tui_e2e.rs`; try it yourself with
//! `cargo run --example panic_restore; stty -a`.

fn main() {
    let _tui = promptlab_tui::terminal::enter(true).expect("entering the terminal");
    std::thread::sleep(std::time::Duration::from_millis(300));
    panic!("deliberate panic inside the app");
}
