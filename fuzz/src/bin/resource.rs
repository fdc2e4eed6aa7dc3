//! AFL++ entry point of the `resource` target (persistent mode).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        flom_fuzz::resource(data);
    });
}
