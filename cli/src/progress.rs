//! Progress bars (indicatif on stderr). They draw only on a terminal, so logs and tests see
//! nothing; `--no-progress` hides them everywhere.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `len` items of `unit` (e.g. "img"), or a hidden one.
pub fn bar(len: u64, unit: &str, show: bool) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if !show {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

/// The training bar: steps with loss and images/s in the message.
pub fn steps_bar(total: u64, start: u64, show: bool) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_position(start);
    if !show {
        pb.set_draw_target(ProgressDrawTarget::hidden());
        return pb;
    }
    let template = "step {pos}/{len} [{bar:30}] {msg} ETA {eta}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}
