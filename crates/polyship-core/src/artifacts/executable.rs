//! What an executable's header says it runs on — ELF, Mach-O (thin or universal) and PE — so that
//! a binary built for the wrong platform (a misconfigured linker, a builder image of another
//! architecture, a script's stale output) is caught where it is made, not by the user who
//! installs it. And whether an ELF binary needs a dynamic loader, which an image `FROM scratch`
//! does not have.

/// The operating system an executable format belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// ELF: Linux and the BSDs.
    Elf,
    MacOs,
    Windows,
}

/// What a header says: the format and the architecture, in target-triple spelling (`x86_64`,
/// `aarch64`, `i686`, `arm`, `riscv64`, `powerpc64`, `s390x`), or `None` for one polyship does
/// not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub os: Os,
    /// The architectures it holds: one, or several for a universal Mach-O.
    pub arches: Vec<Option<&'static str>>,
}

/// The integer at byte `at` of `b`, little- or big-endian; `None` past the end.
pub(super) fn u16_at(b: &[u8], at: usize, little: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if little {
        u16::from_le_bytes(bytes)
    } else {
        u16::from_be_bytes(bytes)
    })
}

pub(super) fn u32_at(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    })
}

pub(super) fn u64_at(b: &[u8], at: usize, little: bool) -> Option<u64> {
    let bytes: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if little {
        u64::from_le_bytes(bytes)
    } else {
        u64::from_be_bytes(bytes)
    })
}

fn elf_arch(machine: u16, wide: bool) -> Option<&'static str> {
    Some(match machine {
        3 => "i686",
        40 => "arm",
        62 => "x86_64",
        183 => "aarch64",
        243 if wide => "riscv64",
        21 => "powerpc64",
        22 => "s390x",
        _ => return None,
    })
}

fn macho_arch(cpu: u32) -> Option<&'static str> {
    Some(match cpu {
        0x0100_0007 => "x86_64",
        0x0100_000c => "aarch64",
        7 => "i686",
        _ => return None,
    })
}

fn pe_arch(machine: u16) -> Option<&'static str> {
    Some(match machine {
        0x8664 => "x86_64",
        0xaa64 => "aarch64",
        0x014c => "i686",
        _ => return None,
    })
}

/// The header of `bytes`, or `None` when it is no executable format polyship reads.
pub fn header(bytes: &[u8]) -> Option<Header> {
    if bytes.starts_with(b"\x7fELF") {
        let wide = *bytes.get(4)? == 2;
        let little = *bytes.get(5)? == 1;
        let machine = u16_at(bytes, 18, little)?;
        return Some(Header {
            os: Os::Elf,
            arches: vec![elf_arch(machine, wide)],
        });
    }
    match bytes.get(..4)? {
        // Thin Mach-O, 64- and 32-bit, as written on little-endian machines.
        [0xcf | 0xce, 0xfa, 0xed, 0xfe] => {
            return Some(Header {
                os: Os::MacOs,
                arches: vec![macho_arch(u32_at(bytes, 4, true)?)],
            });
        }
        // Universal: a big-endian list of the architectures it holds (0xcafebabe is also Java's
        // class-file magic; a Mach-O lists few architectures, a class file's version is larger).
        [0xca, 0xfe, 0xba, 0xbe] => {
            let count = u32_at(bytes, 4, false)?;
            if (1..=16).contains(&count) {
                let arches = (0..count as usize)
                    .map(|i| u32_at(bytes, 8 + i * 20, false).map(macho_arch))
                    .collect::<Option<Vec<_>>>()?;
                return Some(Header {
                    os: Os::MacOs,
                    arches,
                });
            }
            return None;
        }
        _ => {}
    }
    if bytes.starts_with(b"MZ") {
        let pe = u32_at(bytes, 0x3c, true)? as usize;
        if bytes.get(pe..pe + 4)? == b"PE\0\0" {
            return Some(Header {
                os: Os::Windows,
                arches: vec![pe_arch(u16_at(bytes, pe + 4, true)?)],
            });
        }
    }
    None
}

/// The format and architecture a target triple's executables have; `None` for a target polyship
/// cannot tell (wasm, bare metal).
pub fn expected(target: &str) -> Option<(Os, &'static str)> {
    let arch = target.split('-').next()?;
    let arch = match arch {
        "x86_64" => "x86_64",
        "aarch64" | "arm64" => "aarch64",
        "i686" | "i586" | "i386" => "i686",
        a if a.starts_with("armv7") || a.starts_with("arm") || a.starts_with("thumb") => "arm",
        "riscv64gc" | "riscv64" => "riscv64",
        "powerpc64" | "powerpc64le" => "powerpc64",
        "s390x" => "s390x",
        _ => return None,
    };
    let os = if target.contains("-apple-darwin") {
        Os::MacOs
    } else if target.contains("-windows") {
        Os::Windows
    } else if target.contains("-linux") || target.contains("bsd") {
        Os::Elf
    } else {
        return None;
    };
    Some((os, arch))
}

/// Why `bytes` would not start on `target`, or `None` when its header agrees (or the target is
/// one polyship cannot tell about).
pub fn mismatch(bytes: &[u8], target: &str) -> Option<String> {
    let (os, arch) = expected(target)?;
    let Some(found) = header(bytes) else {
        return Some(format!(
            "it is not an executable for `{target}`: no ELF, Mach-O or PE header"
        ));
    };
    let describe = |os: Os| match os {
        Os::Elf => "an ELF (Linux) executable",
        Os::MacOs => "a Mach-O (macOS) executable",
        Os::Windows => "a PE (Windows) executable",
    };
    if found.os != os {
        return Some(format!(
            "it is {}, not {} for `{target}`",
            describe(found.os),
            describe(os)
        ));
    }
    if found.arches.contains(&Some(arch)) {
        return None;
    }
    let had: Vec<&str> = found
        .arches
        .iter()
        .map(|a| a.unwrap_or("unknown"))
        .collect();
    Some(format!(
        "it is built for {}, not {arch} (`{target}`)",
        had.join(" and ")
    ))
}

/// The dynamic loader an ELF executable asks for (`/lib64/ld-linux-x86-64.so.2`), `None` when it
/// is static (or not ELF).
pub fn interpreter(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let wide = *bytes.get(4)? == 2;
    let little = *bytes.get(5)? == 1;
    let (phoff, phentsize, phnum) = if wide {
        (
            usize::try_from(u64_at(bytes, 32, little)?).ok()?,
            u16_at(bytes, 54, little)? as usize,
            u16_at(bytes, 56, little)? as usize,
        )
    } else {
        (
            u32_at(bytes, 28, little)? as usize,
            u16_at(bytes, 42, little)? as usize,
            u16_at(bytes, 44, little)? as usize,
        )
    };
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        // PT_INTERP: the segment is the loader's path.
        if u32_at(bytes, at, little)? != 3 {
            continue;
        }
        let (offset, size) = if wide {
            (
                usize::try_from(u64_at(bytes, at + 8, little)?).ok()?,
                usize::try_from(u64_at(bytes, at + 32, little)?).ok()?,
            )
        } else {
            (
                u32_at(bytes, at + 4, little)? as usize,
                u32_at(bytes, at + 16, little)? as usize,
            )
        };
        let path = bytes.get(offset..offset.checked_add(size)?)?;
        return Some(
            String::from_utf8_lossy(path)
                .trim_end_matches('\0')
                .to_owned(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian ELF header for `machine`, with one program header.
    fn elf(machine: u16, interp: Option<&str>) -> Vec<u8> {
        let mut b = vec![0u8; 0x200];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        if let Some(path) = interp {
            b[64..68].copy_from_slice(&3u32.to_le_bytes());
            b[72..80].copy_from_slice(&0x100u64.to_le_bytes());
            b[96..104].copy_from_slice(&(path.len() as u64 + 1).to_le_bytes());
            b[0x100..0x100 + path.len()].copy_from_slice(path.as_bytes());
        } else {
            b[64..68].copy_from_slice(&1u32.to_le_bytes());
        }
        b
    }

    #[test]
    fn the_running_test_binary_matches_the_host() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let host = format!(
            "{}-unknown-{}-gnu",
            std::env::consts::ARCH,
            std::env::consts::OS
        );
        if std::env::consts::OS == "linux" {
            assert_eq!(mismatch(&me, &host), None);
            assert!(mismatch(&me, "x86_64-pc-windows-msvc").is_some());
            assert!(mismatch(&me, "aarch64-apple-darwin").is_some());
        }
    }

    #[test]
    fn headers_name_the_architecture() {
        assert_eq!(mismatch(&elf(62, None), "x86_64-unknown-linux-musl"), None);
        let wrong = mismatch(&elf(62, None), "aarch64-unknown-linux-gnu").unwrap();
        assert_eq!(
            wrong,
            "it is built for x86_64, not aarch64 (`aarch64-unknown-linux-gnu`)"
        );
        let text = mismatch(b"#!/bin/sh\necho hi\n", "x86_64-unknown-linux-gnu").unwrap();
        assert!(text.contains("no ELF, Mach-O or PE header"), "{text}");
        // Mach-O, thin and universal.
        let mut thin = vec![0xcf, 0xfa, 0xed, 0xfe];
        thin.extend(0x0100_000c_u32.to_le_bytes());
        assert_eq!(mismatch(&thin, "aarch64-apple-darwin"), None);
        assert!(mismatch(&thin, "x86_64-apple-darwin").is_some());
        let mut fat = vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2];
        for cpu in [0x0100_0007_u32, 0x0100_000c] {
            fat.extend(cpu.to_be_bytes());
            fat.extend([0u8; 16]);
        }
        assert_eq!(mismatch(&fat, "x86_64-apple-darwin"), None);
        assert_eq!(mismatch(&fat, "aarch64-apple-darwin"), None);
        // PE.
        let mut pe = vec![0u8; 0x90];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(mismatch(&pe, "aarch64-pc-windows-msvc"), None);
        assert!(
            mismatch(&pe, "x86_64-pc-windows-msvc")
                .unwrap()
                .contains("aarch64, not x86_64")
        );
        assert!(
            mismatch(&pe, "x86_64-unknown-linux-gnu")
                .unwrap()
                .contains("a PE (Windows) executable, not an ELF")
        );
        // Targets polyship cannot tell about are not judged.
        assert_eq!(mismatch(b"\0asm", "wasm32-unknown-unknown"), None);
    }

    #[test]
    fn a_dynamic_elf_names_its_loader() {
        assert_eq!(interpreter(&elf(62, None)), None);
        assert_eq!(
            interpreter(&elf(62, Some("/lib/ld-musl-x86_64.so.1"))).as_deref(),
            Some("/lib/ld-musl-x86_64.so.1")
        );
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if std::env::consts::OS == "linux" && !cfg!(target_feature = "crt-static") {
            assert!(interpreter(&me).is_some());
        }
        // Truncated input is no loader and no panic.
        assert_eq!(interpreter(&elf(62, Some("/x"))[..70]), None);
    }
}
