//! AFL++ entry point of the `timestamp` target (persistent mode).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        flom_fuzz::timestamp(data);
    });
}
