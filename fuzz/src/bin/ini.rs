//! AFL++ entry point of the `ini` target (persistent mode).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        flom_fuzz::ini(data);
    });
}
