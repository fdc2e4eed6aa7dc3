//! AFL++ entry point of the `message_path` target (persistent mode).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        flom_fuzz::message_path(data);
    });
}
