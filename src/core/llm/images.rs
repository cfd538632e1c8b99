//! Image attachments as `image_url` content parts.

use std::io::Read;
use std::path::Path;

use base64::Engine;

use super::types::{ContentPart, ImageUrl};

/// Providers reject larger inline images, and base64 makes them a third bigger still.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub mime: &'static str,
    pub bytes: u64,
    pub width: usize,
    pub height: usize,
}

/// The MIME type of a supported image, from its first bytes. Extensions lie; magic bytes don't.
pub fn sniff_mime(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn file_size(path: &Path) -> Result<u64, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    Ok(meta.len())
}

fn unsupported(path: &Path) -> String {
    format!(
        "{} is not a supported image (png, jpeg, gif or webp)",
        path.display()
    )
}

fn read_head(path: &Path) -> Result<Vec<u8>, String> {
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(head)
}

/// Reads an image into an `image_url` part with a `data:` URI, refusing anything that is not
/// png, jpeg, gif or webp, or is larger than `max_bytes`.
pub fn image_part(path: &Path, max_bytes: u64) -> Result<ContentPart, String> {
    let size = file_size(path)?;
    if size > max_bytes {
        return Err(format!(
            "{} is too large to attach: {} bytes, limit {} bytes",
            path.display(),
            size,
            max_bytes
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // The file may have grown between the size check and the read.
    if data.len() as u64 > max_bytes {
        return Err(format!(
            "{} is too large to attach: {} bytes, limit {} bytes",
            path.display(),
            data.len(),
            max_bytes
        ));
    }
    let mime = sniff_mime(&data).ok_or_else(|| unsupported(path))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
    Ok(ContentPart::ImageUrl {
        image_url: ImageUrl {
            url: format!("data:{mime};base64,{encoded}"),
        },
    })
}

/// Type, size and dimensions of a supported image, without reading all of it.
pub fn image_info(path: &Path) -> Result<ImageInfo, String> {
    let bytes = file_size(path)?;
    let mime = sniff_mime(&read_head(path)?).ok_or_else(|| unsupported(path))?;
    let dims = imagesize::size(path)
        .map_err(|e| format!("cannot read the dimensions of {}: {e}", path.display()))?;
    Ok(ImageInfo {
        mime,
        bytes,
        width: dims.width,
        height: dims.height,
    })
}
