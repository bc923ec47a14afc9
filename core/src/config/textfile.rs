//! Reading text files a repository provides (AGENTS.md, SKILL.md) without
//! trusting it: only regular files, a symlink only when its target stays
//! inside the directory the file belongs to, never the kernel's file
//! systems (`/proc/self/environ` holds the API keys), never a FIFO (it would
//! hang) and never more bytes than the caller can use.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Pseudo file systems whose "files" are never instructions.
const SPECIAL_ROOTS: &[&str] = &["/proc", "/sys", "/dev"];

/// The first bytes of a text file.
#[derive(Debug)]
pub(crate) struct Capped {
    pub text: String,
    /// The file had more than the cap (or was cut inside a character).
    pub truncated: bool,
}

/// Why `path` (a file, or a symlink to one) may not be read, else its
/// canonical target. With `boundary`, a symlink must resolve inside it.
pub(crate) fn check(path: &Path, boundary: Option<&Path>) -> Result<PathBuf, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let target = path.canonicalize().map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        if let Some(boundary) = boundary {
            let boundary = boundary
                .canonicalize()
                .unwrap_or_else(|_| boundary.to_path_buf());
            if !target.starts_with(&boundary) {
                return Err(format!(
                    "it is a symlink to {}, outside {}",
                    target.display(),
                    boundary.display()
                ));
            }
        }
    }
    if SPECIAL_ROOTS.iter().any(|r| target.starts_with(r)) {
        return Err(format!(
            "it resolves to {}, in a kernel file system",
            target.display()
        ));
    }
    let meta = std::fs::metadata(&target).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(target)
}

fn not_regular(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    format!("it is {what}, not a regular file")
}

/// Open a target [`check`] accepted, without blocking (a FIFO swapped in
/// meanwhile does not hang the open) and without following a symlink
/// swapped in; the opened file must still be a regular one.
fn open_regular(target: &Path) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(target)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(file)
}

/// At most `cap` bytes of the text file `path` (see [`check`]), cut on a
/// character boundary. `Err` says why the file is not read.
pub(crate) fn read_capped(
    path: &Path,
    boundary: Option<&Path>,
    cap: usize,
) -> Result<Capped, String> {
    let target = check(path, boundary)?;
    let file = open_regular(&target)?;
    let mut bytes = Vec::new();
    // One byte more than the cap tells whether there was more.
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        // Cut inside a character: keep the whole ones.
        Err(e) if truncated && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).map_err(|e| e.to_string())?
        }
        Err(e) => return Err(format!("it is not UTF-8 text ({})", e.utf8_error())),
    };
    Ok(Capped { text, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why `path` is refused (empty when it is read).
    fn refusal(path: &Path, boundary: Option<&Path>) -> String {
        read_capped(path, boundary, 100).err().unwrap_or_default()
    }

    #[test]
    fn symlinks_out_of_the_boundary_and_special_files_are_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("root");
        std::fs::create_dir(&root)?;
        std::fs::write(dir.path().join("secret"), "SECRET")?;
        std::fs::write(root.join("inside"), "hello")?;
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("out"))?;
        std::os::unix::fs::symlink(root.join("inside"), root.join("in"))?;
        std::os::unix::fs::symlink("/proc/self/environ", root.join("env"))?;

        let err = refusal(&root.join("out"), Some(&root));
        assert!(err.contains("outside"), "{err}");
        assert_eq!(
            read_capped(&root.join("in"), Some(&root), 100)
                .map_err(anyhow::Error::msg)?
                .text,
            "hello"
        );
        // Without a boundary (a file the caller named), still no /proc.
        let err = refusal(&root.join("env"), None);
        assert!(err.contains("kernel file system"), "{err}");
        let err = refusal(&root, None);
        assert!(err.contains("a directory"), "{err}");

        let fifo = root.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())?;
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = refusal(&fifo, Some(&root));
        assert!(err.contains("a FIFO"), "{err}");
        Ok(())
    }

    #[test]
    fn reads_stop_at_the_cap_on_a_char_boundary() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        std::fs::write(&path, "héllo")?;
        let read = read_capped(&path, None, 2).map_err(anyhow::Error::msg)?;
        assert_eq!((read.text.as_str(), read.truncated), ("h", true));
        let read = read_capped(&path, None, 6).map_err(anyhow::Error::msg)?;
        assert_eq!((read.text.as_str(), read.truncated), ("héllo", false));
        std::fs::write(&path, b"\xff\xfe")?;
        assert!(read_capped(&path, None, 6).is_err());
        Ok(())
    }
}
