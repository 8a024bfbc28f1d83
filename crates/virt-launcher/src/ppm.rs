//! Screenshots: QEMU's `screendump` writes binary PPM (P6); clients get PNG.

/// A PPM image that cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not a binary PPM image: {0}")]
    BadPpm(String),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// A decoded 8-bit RGB image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Parses a binary PPM (P6) with a maximum value of 255.
pub fn parse_ppm(data: &[u8]) -> Result<Rgb, ImageError> {
    let bad = |m: &str| ImageError::BadPpm(m.to_string());
    let mut pos = 0;
    let mut fields = Vec::with_capacity(4);
    while fields.len() < 4 {
        // Skip whitespace and comments between header fields.
        while pos < data.len() {
            if data[pos].is_ascii_whitespace() {
                pos += 1;
            } else if data[pos] == b'#' {
                while pos < data.len() && data[pos] != b'\n' {
                    pos += 1;
                }
            } else {
                break;
            }
        }
        let start = pos;
        while pos < data.len() && !data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        if start == pos {
            return Err(bad("truncated header"));
        }
        fields.push(std::str::from_utf8(&data[start..pos]).map_err(|_| bad("bad header"))?);
    }
    // Exactly one whitespace byte separates the header from the pixels.
    pos += 1;
    if fields[0] != "P6" {
        return Err(bad("magic is not P6"));
    }
    let num = |s: &str| s.parse::<u32>().map_err(|_| bad("bad number in header"));
    let (width, height, max) = (num(fields[1])?, num(fields[2])?, num(fields[3])?);
    if max != 255 {
        return Err(bad("only 8-bit images are supported"));
    }
    let len = (width as usize) * (height as usize) * 3;
    let pixels = data
        .get(pos..pos + len)
        .ok_or_else(|| bad("truncated pixel data"))?
        .to_vec();
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

/// Encodes an RGB image as PNG.
pub fn encode_png(image: &Rgb) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&image.pixels)?;
    writer.finish()?;
    Ok(out)
}

/// Converts a binary PPM to PNG.
pub fn ppm_to_png(data: &[u8]) -> Result<Vec<u8>, ImageError> {
    encode_png(&parse_ppm(data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ppm_becomes_a_png_with_the_same_pixels() {
        let mut ppm = b"P6\n# made by a test\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[255, 0, 0, 0, 0, 255]);
        let png_bytes = ppm_to_png(&ppm).unwrap();
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..6], &[255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn truncated_or_foreign_images_are_refused() {
        assert!(parse_ppm(b"P3\n1 1\n255\n000").is_err());
        assert!(parse_ppm(b"P6\n2 2\n255\n\x00\x00\x00").is_err());
        assert!(parse_ppm(b"P6\n1 1\n65535\n\x00\x00\x00\x00\x00\x00").is_err());
        assert!(parse_ppm(b"P6\n1").is_err());
    }
}
