//! AFL++ entry point of the `protocol` target (persistent mode).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        flom_fuzz::protocol(data);
    });
}
