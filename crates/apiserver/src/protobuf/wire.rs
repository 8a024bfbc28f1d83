//! The protobuf wire format: a reader that splits a message into `(field number, value)` pairs.
//! It knows nothing of schemas; the caller decides what each value means.

/// A malformed encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the message ends in the middle of a field")]
    Truncated,
    #[error("a varint is longer than ten bytes")]
    VarintTooLong,
    #[error("field number {0} is out of range")]
    FieldNumber(u64),
    #[error("wire type {0} is not supported")]
    WireType(u8),
}

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the fields of one message, in wire order. Repeated and split fields show up as
/// separate items; the iterator stops at the first malformed field.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// The fields of `buf`, which holds one complete message.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields {
        buf,
        pos: 0,
        failed: false,
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.buf.get(self.pos).ok_or(WireError::Truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintTooLong)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Truncated)?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn next_field(&mut self) -> Result<(u32, WireValue<'a>), WireError> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|&n| (1..1 << 29).contains(&n))
            .ok_or(WireError::FieldNumber(key >> 3))?;
        let value = match (key & 7) as u8 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(fixed(self.take(8)?))),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(fixed(self.take(4)?))),
            other => return Err(WireError::WireType(other)),
        };
        Ok((number, value))
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, WireValue<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let item = self.next_field();
        self.failed = item.is_err();
        Some(item)
    }
}

/// The varints of a packed repeated field.
pub fn packed_varints(buf: &[u8]) -> Result<Vec<u64>, WireError> {
    let mut reader = Fields {
        buf,
        pos: 0,
        failed: false,
    };
    let mut out = Vec::new();
    while reader.pos < buf.len() {
        out.push(reader.varint()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, WireError> {
        fields(buf).collect()
    }

    #[test]
    fn varint_and_length_delimited_fields_are_split_in_order() {
        // field 1 varint 150, field 2 "hi", field 1 again
        let buf = [0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x08, 0x01];
        assert_eq!(
            all(&buf).unwrap(),
            vec![
                (1, WireValue::Varint(150)),
                (2, WireValue::Bytes(b"hi")),
                (1, WireValue::Varint(1))
            ]
        );
    }

    #[test]
    fn negative_int32_uses_ten_bytes_and_sign_extends() {
        let buf = [
            0x10, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        let Ok((2, WireValue::Varint(v))) = fields(&buf).next().unwrap() else {
            panic!("not a varint")
        };
        assert_eq!(v as i64 as i32, -5);
    }

    #[test]
    fn fixed_width_fields_are_little_endian() {
        let buf = [0x0d, 1, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            all(&buf).unwrap(),
            vec![(1, WireValue::Fixed32(1)), (2, WireValue::Fixed64(2))]
        );
    }

    #[test]
    fn a_length_past_the_end_is_truncated() {
        assert_eq!(all(&[0x12, 0x05, b'a']), Err(WireError::Truncated));
        assert_eq!(all(&[0x08]), Err(WireError::Truncated));
    }

    #[test]
    fn groups_and_field_number_zero_are_rejected() {
        assert_eq!(all(&[0x0b]), Err(WireError::WireType(3)));
        assert_eq!(all(&[0x00, 0x01]), Err(WireError::FieldNumber(0)));
    }

    #[test]
    fn an_eleven_byte_varint_is_rejected() {
        let buf = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(all(&buf), Err(WireError::VarintTooLong));
    }

    #[test]
    fn iteration_stops_after_the_first_error() {
        let mut it = fields(&[0x12, 0x09]);
        assert!(matches!(it.next(), Some(Err(WireError::Truncated))));
        assert!(it.next().is_none());
    }

    #[test]
    fn packed_varints_are_unpacked() {
        assert_eq!(
            packed_varints(&[0x01, 0x96, 0x01, 0x00]).unwrap(),
            vec![1, 150, 0]
        );
        assert_eq!(packed_varints(&[0x96]), Err(WireError::Truncated));
    }
}
