//! A minimal protobuf encoder for tests: builds messages field by field, the way Go's
//! generated code lays them out.

/// A message under construction.
#[derive(Debug, Default, Clone)]
pub struct Enc(Vec<u8>);

impl Enc {
    pub fn new() -> Enc {
        Enc(Vec::new())
    }

    fn varint(mut self, mut v: u64) -> Enc {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(byte);
                return self;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn key(self, number: u32, wire_type: u8) -> Enc {
        self.varint((u64::from(number) << 3) | u64::from(wire_type))
    }

    /// A varint field; negative values are sign-extended to ten bytes as Go does.
    pub fn int(self, number: u32, v: i64) -> Enc {
        self.key(number, 0).varint(v as u64)
    }

    pub fn bytes(self, number: u32, b: &[u8]) -> Enc {
        let mut e = self.key(number, 2).varint(b.len() as u64);
        e.0.extend_from_slice(b);
        e
    }

    pub fn string(self, number: u32, s: &str) -> Enc {
        self.bytes(number, s.as_bytes())
    }

    pub fn msg(self, number: u32, inner: Enc) -> Enc {
        self.bytes(number, &inner.0)
    }

    /// A packed repeated varint field.
    pub fn packed(self, number: u32, values: &[i64]) -> Enc {
        let inner = values.iter().fold(Enc::new(), |e, &v| e.varint(v as u64));
        self.bytes(number, &inner.0)
    }

    /// One entry of a `map<string, string>`.
    pub fn entry(self, number: u32, key: &str, value: &str) -> Enc {
        self.msg(number, Enc::new().string(1, key).string(2, value))
    }

    /// One entry of a `map<string, bytes>`.
    pub fn bytes_entry(self, number: u32, key: &str, value: &[u8]) -> Enc {
        self.msg(number, Enc::new().string(1, key).bytes(2, value))
    }

    /// One entry of a map whose values are messages.
    pub fn msg_entry(self, number: u32, key: &str, value: Enc) -> Enc {
        self.msg(number, Enc::new().string(1, key).msg(2, value))
    }

    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

/// A complete request body: the `k8s\0` magic and a `runtime.Unknown` holding `raw`.
pub fn envelope(api_version: &str, kind: &str, raw: Enc) -> Vec<u8> {
    let unknown = Enc::new()
        .msg(1, Enc::new().string(1, api_version).string(2, kind))
        .msg(2, raw)
        .string(3, "")
        .string(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.build());
    out
}

/// `metav1.Time` or `MicroTime` at `seconds` past the epoch.
pub fn time(seconds: i64, nanos: i64) -> Enc {
    Enc::new().int(1, seconds).int(2, nanos)
}

/// An `ObjectMeta` as kubectl writes it for a new object: every value field present, most empty.
pub fn new_meta(name: &str, namespace: &str) -> Enc {
    Enc::new()
        .string(1, name)
        .string(2, "")
        .string(3, namespace)
        .string(4, "")
        .string(5, "")
        .string(6, "")
        .int(7, 0)
        .msg(8, Enc::new())
}
