//! Build script: gives the C API's shared library the soname C FLoM's has,
//! so programs linked against either find `libflom.so.0`.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libflom.so.0");
    println!("cargo:rerun-if-changed=build.rs");
}
