//! Reproducible archives: `.tar.gz` and `.zip` written byte for byte the same from the same files.
//!
//! Entries are sorted by name, every mtime is the one given (the release commit's time, or
//! `SOURCE_DATE_EPOCH`), owners are `0:0` without names, modes are `0755` for executables and `0644`
//! for the rest, and the gzip header carries no time or file name. Both formats are written here
//! rather than through the `tar` and `zip` crates: each is a few screens, and the crates' defaults
//! (the current time, the builder's uid, extended headers) are exactly what must not leak in.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path inside the archive, `/`-separated; ending in `/`, a directory (tar only).
    pub name: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// The archive formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "zip")]
    Zip,
}

impl Format {
    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }

    /// `zip` for Windows targets, `tar.gz` for the rest (what their users unpack without tools).
    pub fn for_target(target: &str) -> Self {
        if target.contains("windows") {
            Format::Zip
        } else {
            Format::TarGz
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tar.gz" | "tgz" => Some(Format::TarGz),
            "zip" => Some(Format::Zip),
            _ => None,
        }
    }
}

/// Why an archive cannot hold an entry.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("`{name}` is too long a path for a tar archive (at most 255 bytes, in two parts)")]
    NameTooLong { name: String },
    #[error("`{name}` is larger than an archive entry can be here ({size} bytes)")]
    TooLarge { name: String, size: usize },
    #[error("two files would be `{name}` in the archive")]
    Duplicate { name: String },
}

/// The archive's bytes, entries sorted by name.
pub fn write(format: Format, entries: &[Entry], mtime: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = sorted.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(ArchiveError::Duplicate {
            name: w[0].name.clone(),
        });
    }
    match format {
        Format::TarGz => tar_gz(&sorted, mtime),
        Format::Zip => zip(&sorted, mtime),
    }
}

fn mode(e: &Entry) -> u32 {
    if e.executable || e.name.ends_with('/') {
        0o755
    } else {
        0o644
    }
}

fn tar_gz(entries: &[&Entry], mtime: u64) -> Result<Vec<u8>, ArchiveError> {
    Ok(gzip(&tar(entries, mtime)?))
}

/// An uncompressed tar of `entries`, in the order given (an image layer's `diff_id` is its hash).
pub fn tar(entries: &[&Entry], mtime: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut tar = Vec::new();
    for e in entries {
        tar.extend_from_slice(&tar_header(e, mtime)?);
        tar.extend_from_slice(&e.contents);
        tar.resize(tar.len().next_multiple_of(512), 0);
    }
    // Two zero blocks end the archive.
    tar.resize(tar.len() + 1024, 0);
    Ok(tar)
}

/// gzip of `bytes`; flate2's default header has neither time (mtime 0) nor file name.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// A ustar header; names longer than 100 bytes are split into its prefix and name fields.
fn tar_header(e: &Entry, mtime: u64) -> Result<[u8; 512], ArchiveError> {
    let mut h = [0u8; 512];
    let name = e.name.as_bytes();
    let (prefix, rest) = if name.len() <= 100 {
        (&[][..], name)
    } else {
        let split = name
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'/' && i <= 155 && name.len() - i - 1 <= 100)
            .map(|(i, _)| i)
            .next_back()
            .ok_or_else(|| ArchiveError::NameTooLong {
                name: e.name.clone(),
            })?;
        (&name[..split], &name[split + 1..])
    };
    let size = e.contents.len();
    if size >= 8 << 30 {
        return Err(ArchiveError::TooLarge {
            name: e.name.clone(),
            size,
        });
    }
    h[..rest.len()].copy_from_slice(rest);
    octal(&mut h[100..108], u64::from(mode(e)));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size as u64);
    octal(&mut h[136..148], mtime.min(0o777_7777_7777));
    h[156] = if e.name.ends_with('/') { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    // The checksum is summed with its own field as spaces.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    Ok(h)
}

/// `value` in octal, zero-padded, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = format!("{value:0width$o}", width = field.len() - 1);
    field[..digits.len()].copy_from_slice(digits.as_bytes());
    field[field.len() - 1] = 0;
}

/// A zip archive of deflated entries, with Unix modes in the external attributes.
fn zip(entries: &[&Entry], mtime: u64) -> Result<Vec<u8>, ArchiveError> {
    let (time, date) = dos_time(mtime);
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let too_large = || ArchiveError::TooLarge {
            name: e.name.clone(),
            size: e.contents.len(),
        };
        let mut crc = flate2::Crc::new();
        crc.update(&e.contents);
        let mut deflate = DeflateEncoder::new(Vec::new(), Compression::default());
        deflate.write_all(&e.contents).expect("writing to memory");
        let deflated = deflate.finish().expect("writing to memory");
        let offset = u32::try_from(out.len()).map_err(|_| too_large())?;
        let size = u32::try_from(e.contents.len()).map_err(|_| too_large())?;
        let compressed = u32::try_from(deflated.len()).map_err(|_| too_large())?;
        let name_len = u16::try_from(e.name.len()).map_err(|_| ArchiveError::NameTooLong {
            name: e.name.clone(),
        })?;
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0x0800, 8, time, date] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc.sum(), compressed, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&deflated);
        // Its central directory record: made by Unix (3) so that the mode is read back.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [0x031eu16, 20, 0x0800, 8, time, date] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc.sum(), compressed, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name_len, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&((0o100_000 | mode(e)) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let count = u16::try_from(entries.len()).map_err(|_| ArchiveError::TooLarge {
        name: "the archive".into(),
        size: entries.len(),
    })?;
    let start = u32::try_from(out.len()).map_err(|_| ArchiveError::TooLarge {
        name: "the archive".into(),
        size: out.len(),
    })?;
    let central_len = u32::try_from(central.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, count, count] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

/// MS-DOS time and date of a Unix time (UTC), clamped to the format's 1980–2107.
fn dos_time(unix: u64) -> (u16, u16) {
    const MIN: u64 = 315_532_800; // 1980-01-01
    let (y, m, d, hour, minute, second) = crate::apply::commit::civil(unix.max(MIN));
    let year = u16::try_from((y - 1980).clamp(0, 127)).unwrap_or(127);
    let time = u16::try_from((hour << 11) | (minute << 5) | (second / 2)).unwrap_or(0);
    let (m, d) = (u16::try_from(m).unwrap_or(1), u16::try_from(d).unwrap_or(1));
    (time, (year << 9) | (m << 5) | d)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(bytes))
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `sha256sum`'s format: `<hex>  <name>` lines, sorted by name.
pub fn checksums(files: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.iter().fold(String::new(), |mut text, (name, hex)| {
        use std::fmt::Write as _;
        let _ = writeln!(text, "{hex}  {name}");
        text
    })
}

/// The entries of the zip archive `bytes` (a wheel) whose names `wanted` accepts, with their
/// contents: stored or deflated, each at most `limit` bytes once inflated, so a hostile archive
/// costs no unbounded memory.
pub fn zip_entries(
    bytes: &[u8],
    wanted: &dyn Fn(&str) -> bool,
    limit: u64,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    use super::executable::{u16_at as u16_in, u32_at as u32_in};
    use std::io::Read as _;
    let u16_at = |at: usize| {
        u16_in(bytes, at, true)
            .map(usize::from)
            .ok_or("it is cut short")
    };
    let u32_at = |at: usize| {
        u32_in(bytes, at, true)
            .map(|v| v as usize)
            .ok_or("it is cut short")
    };
    // The end of central directory record: the last `PK\5\6` (a comment may follow it).
    let end = (0..bytes.len().saturating_sub(21))
        .rev()
        .take(65_557)
        .find(|&i| bytes[i..].starts_with(&0x0605_4b50u32.to_le_bytes()))
        .ok_or("it has no zip directory")?;
    let count = u16_at(end + 10)?;
    let mut at = u32_at(end + 16)?;
    let mut found = Vec::new();
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return Err("its zip directory is damaged".into());
        }
        let method = u16_at(at + 10)?;
        let compressed = u32_at(at + 20)?;
        let name_len = u16_at(at + 28)?;
        let extra_len = u16_at(at + 30)?;
        let comment_len = u16_at(at + 32)?;
        let local = u32_at(at + 42)?;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or("it is cut short")?;
        let name = String::from_utf8_lossy(name).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if !wanted(&name) {
            continue;
        }
        if u32_at(local)? != 0x0403_4b50 {
            return Err(format!("the entry `{name}` is damaged"));
        }
        let start = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = bytes
            .get(start..start + compressed)
            .ok_or_else(|| format!("the entry `{name}` is cut short"))?;
        let mut contents = Vec::new();
        match method {
            0 => contents.extend_from_slice(data),
            8 => {
                flate2::read::DeflateDecoder::new(data)
                    .take(limit + 1)
                    .read_to_end(&mut contents)
                    .map_err(|e| format!("the entry `{name}` does not inflate: {e}"))?;
            }
            other => {
                return Err(format!(
                    "the entry `{name}` is compressed with method {other}"
                ));
            }
        }
        if contents.len() as u64 > limit {
            return Err(format!("the entry `{name}` is larger than {limit} bytes"));
        }
        found.push((name, contents));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_entries_read_back_what_zip_wrote_and_refuse_damage() {
        let zip = write(Format::Zip, &entries(), 1_700_000_000).unwrap();
        let found = zip_entries(&zip, &|n| n.ends_with("/tool"), 1 << 20).unwrap();
        assert_eq!(
            found,
            vec![("tool-1.0.0/tool".to_owned(), b"\x7fELF binary".to_vec())]
        );
        assert!(
            zip_entries(&zip, &|_| true, 4)
                .unwrap_err()
                .contains("larger than 4")
        );
        for cut in [0, 10, zip.len() / 2, zip.len() - 30] {
            let _ = zip_entries(&zip[..cut], &|_| true, 1 << 20);
        }
        assert!(zip_entries(b"not a zip", &|_| true, 10).is_err());
    }

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                name: "tool-1.0.0/tool".into(),
                contents: b"\x7fELF binary".to_vec(),
                executable: true,
            },
            Entry {
                name: "tool-1.0.0/README.md".into(),
                contents: b"# tool\n".to_vec(),
                executable: false,
            },
        ]
    }

    #[test]
    fn the_same_files_give_the_same_bytes_in_any_order() {
        let mut reversed = entries();
        reversed.reverse();
        for format in [Format::TarGz, Format::Zip] {
            let a = write(format, &entries(), 1_700_000_000).unwrap();
            let b = write(format, &reversed, 1_700_000_000).unwrap();
            assert_eq!(a, b, "{format:?}");
            let c = write(format, &entries(), 1_700_000_002).unwrap();
            assert_ne!(a, c, "{format:?}: the time is in the archive");
        }
    }

    #[test]
    fn tar_headers_are_ustar_with_valid_checksums() {
        let bytes = write(Format::TarGz, &entries(), 1_700_000_000).unwrap();
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut tar)
            .unwrap();
        let header = &tar[..512];
        assert_eq!(&header[..20], b"tool-1.0.0/README.md");
        assert_eq!(&header[257..262], b"ustar");
        let stored =
            u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap().trim(), 8).unwrap();
        let mut blanked = header.to_vec();
        blanked[148..156].fill(b' ');
        assert_eq!(stored, blanked.iter().map(|&b| u32::from(b)).sum::<u32>());
        assert_eq!(&header[100..107], b"0000644");
        // The executable is the second entry, after README's one block of contents.
        assert_eq!(&tar[1024 + 100..1024 + 107], b"0000755");
    }

    #[test]
    fn long_names_use_the_prefix_field_and_too_long_ones_are_errors() {
        let long = Entry {
            name: format!("{}/{}", "d".repeat(120), "f".repeat(90)),
            contents: Vec::new(),
            executable: false,
        };
        let h = tar_header(&long, 0).unwrap();
        assert_eq!(&h[345..465], "d".repeat(120).as_bytes());
        assert_eq!(&h[..90], "f".repeat(90).as_bytes());
        let too_long = Entry {
            name: "x".repeat(300),
            ..long
        };
        assert!(matches!(
            tar_header(&too_long, 0),
            Err(ArchiveError::NameTooLong { .. })
        ));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut twice = entries();
        twice.push(twice[0].clone());
        assert!(matches!(
            write(Format::Zip, &twice, 0),
            Err(ArchiveError::Duplicate { .. })
        ));
    }

    #[test]
    fn dos_dates_follow_the_calendar() {
        // 2023-11-14 22:13:20 UTC.
        let (time, date) = dos_time(1_700_000_000);
        assert_eq!(date >> 9, 2023 - 1980);
        assert_eq!((date >> 5) & 0xf, 11);
        assert_eq!(date & 0x1f, 14);
        assert_eq!(time >> 11, 22);
        assert_eq!((time >> 5) & 0x3f, 13);
        assert_eq!(dos_time(0), (0, 1 << 5 | 1), "clamped to 1980-01-01");
    }

    #[test]
    fn checksums_are_sha256sum_lines_sorted_by_name() {
        let text = checksums(&[
            ("b.tar.gz".into(), sha256_hex(b"b")),
            ("a.zip".into(), sha256_hex(b"")),
        ]);
        assert_eq!(
            text,
            format!(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.zip\n{}  b.tar.gz\n",
                sha256_hex(b"b")
            )
        );
    }
}
