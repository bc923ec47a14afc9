//! Images as `data:` URLs, for `view_image` and `--image` attachments.

use std::path::Path;

use base64::Engine;

/// The largest image codeloop attaches; bigger files are refused, not cut.
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// The MIME type of an image by its magic bytes: PNG, JPEG, GIF or WebP.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Read an image file into a `data:<mime>;base64,...` URL, or say why not.
pub fn data_url(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_IMAGE_BYTES {
        return Err(format!(
            "{} bytes is larger than the {} byte limit for images",
            meta.len(),
            MAX_IMAGE_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let mime = sniff_mime(&bytes).ok_or("not a PNG, JPEG, GIF or WebP image")?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    ))
}
