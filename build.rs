//! Links `rampart` with packed relative relocations (DT_RELR) where the toolchain and the C
//! library support them.
//!
//! A position-independent binary carries one 24-byte relocation record per pointer in its
//! read-only data (vtables, string tables, panic locations): some 46,000 records, 1.1 MB,
//! that the loader reads at every start and that stay resident. Packed, they take 13 KB,
//! and an idle server is about 1 MB smaller. The binary stays position-independent, so
//! address-space randomization is unchanged.
//!
//! The linker needs `-z pack-relative-relocs` (binutils 2.38, lld 15) and the C library
//! must load such binaries (glibc 2.36). Both are probed by linking and running a small C
//! program that has a relocation of its own, with the same `cc` rustc links with; when
//! anything fails, the binary is linked as before.

use std::env;
use std::path::Path;
use std::process::{Command, Stdio};

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

const PROBE: &str = "static int answer = 42;\n\
                     int *volatile pointer = &answer;\n\
                     int main(void) { return *pointer == 42 ? 0 : 1; }\n";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RAMPART_NO_RELR");
    if supports_packed_relocations() {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    }
}

fn supports_packed_relocations() -> bool {
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    // The probe must run here, so only a native glibc build is probed.
    if env::var_os("RAMPART_NO_RELR").is_some() || target != host || !target.ends_with("-linux-gnu")
    {
        return false;
    }
    let Some(out_dir) = env::var_os("OUT_DIR") else {
        return false;
    };
    let out_dir = Path::new(&out_dir);
    let source = out_dir.join("relr-probe.c");
    let binary = out_dir.join("relr-probe");
    if std::fs::write(&source, PROBE).is_err() {
        return false;
    }
    let linked = Command::new("cc")
        .args(["-fPIE", "-pie", FLAG, "-o"])
        .arg(&binary)
        .arg(&source)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    linked
        && Command::new(&binary)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
}
