#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Read access to the process environment.
public enum Environment {
    /// The value of `name`, or nil when unset or empty.
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }
}

/// A string quoted for messages, with control characters made visible and length bounded,
/// so that hostile input cannot forge log lines or flood a reply.
public func quoted(_ value: String, limit: Int = 80) -> String {
    var out = "'"
    for (count, scalar) in value.unicodeScalars.enumerated() {
        if count == limit {
            out += "…"
            break
        }
        if scalar.value < 0x20 || scalar.value == 0x7F {
            out += "\\x" + String(scalar.value, radix: 16)
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out + "'"
}

extension UInt8 {
    /// Whether this byte is an ASCII letter or digit (the core of every option-value allow-list).
    public var isASCIIAlphanumeric: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
    }
}

extension Collection where Element == UInt8 {
    /// The offset of the first occurrence of `needle` in these bytes, or nil.
    public func firstOffset(of needle: [UInt8]) -> Int? {
        let bytes = Array(self)
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { start in
            bytes[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
