//! A QR code of a text as a PNG image (for a virtual MFA device's `otpauth://` URI): encoded
//! by `qrcodegen`, drawn black on white with the standard 4-module quiet zone, written by `png`.

use qrcodegen::{QrCode, QrCodeEcc};

/// Pixels per module.
const SCALE: usize = 6;
/// Modules of white around the code, as the QR standard asks.
const BORDER: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text is too long for a QR code")]
    TooLong,
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// The PNG (8-bit greyscale) of the QR code of `text`, error correction level M.
pub fn qr_png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| QrError::TooLong)?;
    let modules = usize::try_from(code.size()).map_err(|_| QrError::TooLong)?;
    let side = (modules + 2 * BORDER) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for y in 0..modules {
        for x in 0..modules {
            // Module coordinates are below `size`, which fits in i32.
            if code.get_module(x as i32, y as i32) {
                for dy in 0..SCALE {
                    let row = ((y + BORDER) * SCALE + dy) * side;
                    let start = row + (x + BORDER) * SCALE;
                    pixels[start..start + SCALE].fill(0);
                }
            }
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| QrError::TooLong)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| QrError::Png(e.to_string()))?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| QrError::Png(e.to_string()))?;
    writer.finish().map_err(|e| QrError::Png(e.to_string()))?;
    Ok(out)
}

/// Reads back the text of the QR code in a PNG made by [`qr_png`] (tests only).
#[cfg(test)]
pub fn read_qr_png(png_bytes: &[u8]) -> Option<String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = image.detect_grids();
    let (_, text) = grids.first()?.decode().ok()?;
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_reads_back_as_the_text() {
        let uri = "otpauth://totp/dev%2Bone@111122223333?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
        let png = qr_png(uri).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(read_qr_png(&png).as_deref(), Some(uri));
    }

    #[test]
    fn too_long_is_an_error() {
        assert!(matches!(qr_png(&"x".repeat(5_000)), Err(QrError::TooLong)));
    }
}
